"""`python -m cgraph cache info|list|clear` on a private cache."""

from __future__ import annotations

import os
import subprocess
import sys

import cgraph
import cgraph.tensor as T


def run(*args: str, cache) -> str:
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-m", "cgraph", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cache_info_list_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path))
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x) + 41.5)
    assert "entries:         0" not in run("cache", "info", cache=tmp_path)
    listing = run("cache", "list", cache=tmp_path)
    assert any(line.split()[-1] in f.c_path for line in listing.splitlines())
    assert "removed" in run("cache", "clear", cache=tmp_path)
    assert "entries:         0" in run("cache", "info", cache=tmp_path)


def test_bad_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "cgraph", "cache", "explode"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr
