"""The command line (`python -m cgraph ...`) on private caches, and compile logging."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, cli, cli_output

import cgraph
import cgraph.tensor as T
from cgraph.__main__ import parse_size, summarize_c

ROOT = REPO


@pytest.mark.slow
def test_cache_info_list_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path))
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x) + 41.5)
    assert "entries:         0" not in cli_output("cache", "info", cache=tmp_path)
    listing = cli_output("cache", "list", cache=tmp_path)
    assert any(line.split()[-1] in f.c_path for line in listing.splitlines())
    assert "removed" in cli_output("cache", "clear", cache=tmp_path)
    assert "entries:         0" in cli_output("cache", "info", cache=tmp_path)


def test_bad_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "cgraph", "cache", "explode"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


def test_version():
    proc = subprocess.run([sys.executable, "-m", "cgraph", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cgraph {cgraph.__version__}"


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cgraph"] == "cgraph.__main__:main"
    assert "graphviz" in " ".join(project["optional-dependencies"]["viz"])
    module, _, name = project["scripts"]["cgraph"].partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    installed = shutil.which("cgraph")
    if installed:  # an install made after the script was declared
        proc = subprocess.run([installed, "--version"], capture_output=True, text=True,
                              timeout=60)
        assert proc.stdout.strip() == f"cgraph {cgraph.__version__}"


def test_cache_list_shows_age_size_and_what_entries_compute(tmp_path, monkeypatch):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path))
    x = T.dvector("x")
    f = cgraph.function([x], T.tanh(x) * 7.25)
    lines = cli_output("cache", "list", cache=tmp_path).splitlines()
    assert lines[0].split()[:2] == ["key", "last"]
    row = next(line for line in lines if line.endswith(str(Path(f.c_path).parent)))
    assert " s ago " in row and "KiB" in row
    assert "1 kernel: fused{tanh,mul} (at test_cli.py:" in row


def test_summarize_c_reads_kernel_comments():
    c = ("/* v2 = Dot(v0:W, v1:x)  float64[?]  [id B]  at net.py:7 */\nstatic int k0(void)\n"
         "/* v3, v4 = fused{exp,mul}(v2, v0)  float64[?]  float64[?]  [id A]  at net.py:8 */\n"
         "static int k1(void)\n    /* v2 = Dot(v0:W, v1:x)  float64[?]  [id B] */\n")
    assert summarize_c(c) == "2 kernels: Dot, fused{exp,mul} (at net.py:7)"
    assert summarize_c("int f(void) { return 0; }\n") == ""


def _age_entry(entry: Path, days: float) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta["created"] = time.time() - days * 86400
    (entry / "meta.json").write_text(json.dumps(meta))
    old = time.time() - days * 86400
    os.utime(entry, (old, old))


@pytest.mark.slow
def test_cache_purge_by_age_and_by_size(tmp_path, monkeypatch):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path))
    x = T.dvector("x")
    # only these three entries (three graphs: a changed constant alone shares a module)
    with cgraph.config.change_flags(c_call=False):
        old = Path(cgraph.function([x], T.exp(x) * 8.5).c_path).parent
        mid = Path(cgraph.function([x], T.sin(x) * 9.5).c_path).parent
        new = Path(cgraph.function([x], T.cos(x) * 10.5).c_path).parent
    _age_entry(old, 10)
    _age_entry(mid, 3)
    assert cli("cache", "purge", cache=tmp_path).returncode == 2  # says what to give
    out = cli_output("cache", "purge", "--older-than", "5", cache=tmp_path)
    assert out.startswith("removed 1 entry") and "2 left" in out
    assert not old.exists() and mid.exists() and new.exists()
    size = sum(p.stat().st_size for p in new.rglob("*") if p.is_file())
    out = cli_output("cache", "purge", "--max-size", str(size + 10), cache=tmp_path)
    assert out.startswith("removed 1 entry") and not mid.exists() and new.exists()
    out = cli_output("cache", "purge", "--max-size", "0", cache=tmp_path)
    assert out.endswith("0 left (0 B)\n")
    assert not new.exists()


def test_parse_size():
    assert parse_size("4096") == 4096 and parse_size("2k") == 2048
    assert parse_size("1.5M") == int(1.5 * 1024**2) and parse_size("2GB") == 2 * 1000**3
    assert parse_size("3 MiB") == 3 * 1024**2
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("lots")


def test_cache_commands_follow_the_cache_dir_flag(tmp_path):
    flagged = tmp_path / "from-flag"
    out = cli_output("cache", "info", cache=tmp_path / "from-env",
              CGRAPH_FLAGS=f"cache_dir={flagged}")
    assert f"cache directory: {flagged}" in out and flagged.is_dir()


def test_config_command_lists_flags_and_sources(tmp_path):
    out = cli_output("config", cache=tmp_path, CGRAPH_FLAGS="floatX=float32")
    line = next(ln for ln in out.splitlines() if ln.startswith("floatX"))
    assert "float32" in line and "[CGRAPH_FLAGS]" in line
    assert "exception_verbosity" in out and "[default]" in out


@pytest.mark.slow
def test_demo_xor_trains_and_draws(tmp_path):
    out = cli_output("demo", "xor", "--draw", str(tmp_path / "xor.dot"), cache=tmp_path)
    lines = out.splitlines()
    assert lines[0].startswith("Cost: ") and len([ln for ln in lines if "Cost" in ln]) == 20
    predictions = {ln.split(" -> ")[0]: float(ln.split(" -> ")[1]) for ln in lines
                   if " -> " in ln}
    assert predictions["[0, 1]"] > 0.8 and predictions["[1, 0]"] > 0.8
    assert predictions["[1, 1]"] < 0.2 and predictions["[0, 0]"] < 0.2
    assert "update of theta1" in (tmp_path / "xor.dot").read_text()
    assert any(ln.startswith("the training step's C: ") for ln in lines)


@pytest.mark.slow
def test_compile_events_are_logged_and_silent_by_default(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path))
    x = T.dvector("x")
    with caplog.at_level(logging.DEBUG, logger="cgraph"):
        f = cgraph.function([x], T.exp(x) * 11.5)
    compiled = [r for r in caplog.records if "compiled" in r.getMessage()]
    # (the C call path's module, new in this cache folder, is logged as well)
    ours = [r for r in compiled if str(Path(f.c_path).parent) in r.getMessage()]
    assert ours and ours[0].levelno == logging.INFO and ours[0].name.startswith("cgraph.")
    assert any("cache miss" in r.getMessage() for r in caplog.records)
    code = ("import cgraph, cgraph.tensor as T; x = T.dvector('x'); "
            "cgraph.function([x], T.exp(x) * 12.5)")
    for _ in range(2):  # a compile, then a cache hit: nothing printed either time
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, env=dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path)))
        assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""
    verbose = "import logging; logging.basicConfig(level=logging.DEBUG); " + code
    proc = subprocess.run([sys.executable, "-c", verbose], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path)))
    assert "cache hit" in proc.stderr
