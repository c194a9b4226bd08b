"""cgraph.config: every flag's parsing, the sources and their precedence, suggestions."""

from __future__ import annotations

import ast
import copy
import os
import pickle
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import cgraph
import cgraph.tensor as T
from cgraph.backend.build import DEFAULT_CFLAGS, BuildOptions
from cgraph.compile.function import build_options
from cgraph.configdefaults import Config, ConfigError, UnknownFlagError, load_config

#: flag -> ([(text or value given, value stored)], [rejected values])
CASES = {
    "floatX": ([("float32", "float32"), ("float64", "float64")], ["float16", "double", 32]),
    "mode": ([("PY", "PY"), ("C", "C")], ["c", "DEBUG"]),
    "optimizer": ([("fast_compile", "fast_compile"), (None, "None"), ("None", "None")],
                  ["O3", "fast"]),
    "rewrite_exclude": ([("fusion:merge", ("fusion", "merge")), (["dce"], ("dce",)),
                         ("", ())], []),
    "cache_dir": ([("/tmp/x ", "/tmp/x"), ("", "")], [3]),
    "cc": ([("clang", "clang")], [None]),
    "cflags": ([("-O2 -g", "-O2 -g")], [["-O2"]]),
    "openmp": ([("True", True), ("0", False), ("yes", True), (False, False)], ["maybe", 2]),
    "num_threads": ([("4", 4), (0, 0), (" 2 ", 2)], ["-1", "two", True, -3]),
    "profile": ([("true", True), ("off", False)], ["sometimes"]),
    "c_call": ([("false", False), ("1", True)], ["fast"]),
    "blas_one_thread_below": ([("134217728", 2**27), (0, 0)], ["-1", "many"]),
    "blas_threads": ([("auto", "auto"), ("library", "library")], ["two", 2, "Auto"]),
    "sanitize": ([("1", True), ("False", False)], ["2"]),
    "exception_verbosity": ([("high", "high"), ("low", "low")], ["medium", "HIGH"]),
    "compile_progress": ([("False", False), ("1", True)], ["sometimes"]),
}


def test_every_flag_is_covered_and_documented():
    cfg = Config()
    names = [line.split()[0] for line in cfg.describe().splitlines()
             if not line.startswith(" ")]
    assert sorted(names) == sorted(CASES)
    for name in CASES:
        assert f"{name} :" in Config.__doc__  # numpy-style attribute docs


@pytest.mark.parametrize("name", sorted(CASES))
def test_flag_parsing(name):
    accepted, rejected = CASES[name]
    for given, stored in accepted:
        cfg = Config()
        setattr(cfg, name, given)
        assert getattr(cfg, name) == stored and type(getattr(cfg, name)) is type(stored)
        cfg2 = load_config({"CGRAPH_FLAGS": f"{name}={given}"} if isinstance(given, str)
                           else {})
        if isinstance(given, str) and "," not in given:
            assert getattr(cfg2, name) == stored
    for bad in rejected:
        cfg = Config()
        with pytest.raises(ConfigError, match=f"config.{name}"):
            setattr(cfg, name, bad)


def test_unknown_flags_are_errors_with_a_suggestion():
    cfg = Config()
    with pytest.raises(UnknownFlagError, match="did you mean 'floatX'"):
        cfg.floatx = "float32"
    with pytest.raises(AttributeError, match="did you mean 'cflags'"):
        cfg.cflag  # noqa: B018
    with pytest.raises(ValueError, match="no flag 'zzz'$"):
        cfg.zzz = 1
    with pytest.raises(ConfigError, match="CGRAPH_FLAGS: .*did you mean 'exception_verbosity'"):
        load_config({"CGRAPH_FLAGS": "exception_verbosty=high"})
    with pytest.raises(ConfigError, match="did you mean 'float32'"):
        cfg.floatX = "flaot32"
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config({"CGRAPH_FLAGS": "floatX"})


def test_flags_text_keeps_spaces_and_skips_empty_items():
    cfg = load_config({"CGRAPH_FLAGS": " floatX = float32 ,,cflags=-O1 -g -fno-math-errno,"})
    assert cfg.floatX == "float32" and cfg.cflags == "-O1 -g -fno-math-errno"


def _rc(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_rc_file_then_environment_then_assignment(tmp_path):
    rc = _rc(tmp_path / "cgraphrc", "[global]\nfloatX = float32\ncflags = -O1\n"
                                    "exception_verbosity = high\n")
    env = {"CGRAPHRC": str(rc), "CGRAPH_FLAGS": "cflags=-O2"}
    cfg = load_config(env)
    assert (cfg.floatX, cfg.cflags, cfg.exception_verbosity) == ("float32", "-O2", "high")
    assert cfg.source_of("floatX") == f"file {rc}"
    assert cfg.source_of("cflags") == "CGRAPH_FLAGS"
    assert cfg.source_of("mode") == "default"
    cfg.cflags = "-O0"
    assert cfg.cflags == "-O0" and cfg.source_of("cflags") == "assigned"
    assert "[assigned]" in cfg.describe() and f"[file {rc}]" in cfg.describe()


def test_later_rc_files_win_and_missing_ones_are_skipped(tmp_path):
    first = _rc(tmp_path / "a", "[global]\nfloatX = float32\nmode = PY\n")
    second = _rc(tmp_path / "b", "[global]\nmode = C\n")
    paths = os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)])
    cfg = load_config({"CGRAPHRC": paths})
    assert (cfg.floatX, cfg.mode) == ("float32", "C")


def test_default_rc_is_in_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _rc(tmp_path / ".cgraphrc", "[global]\nnum_threads = 3\n")
    assert load_config({}).num_threads == 3


def test_bad_rc_files_name_the_file(tmp_path):
    rc = _rc(tmp_path / "rc", "[compiler]\ncc = clang\n")
    with pytest.raises(ConfigError, match=f"{rc}: unknown section"):
        load_config({"CGRAPHRC": str(rc)})
    rc = _rc(tmp_path / "rc2", "[global]\nflotX = float32\n")
    with pytest.raises(UnknownFlagError, match=f"file {rc}: .*did you mean 'floatX'"):
        load_config({"CGRAPHRC": str(rc)})
    rc = _rc(tmp_path / "rc3", "no section here\n")
    with pytest.raises(ConfigError, match=str(rc)):
        load_config({"CGRAPHRC": str(rc)})


def test_change_flags_restores_values_and_sources():
    cfg = load_config({"CGRAPH_FLAGS": "mode=PY"})
    with pytest.raises(RuntimeError), cfg.change_flags(mode="C", floatX="float32"):
        assert (cfg.mode, cfg.floatX) == ("C", "float32")
        assert cfg.source_of("mode") == "assigned"
        raise RuntimeError
    assert (cfg.mode, cfg.floatX) == ("PY", "float64")
    assert cfg.source_of("mode") == "CGRAPH_FLAGS" and cfg.source_of("floatX") == "default"
    with pytest.raises(ConfigError), cfg.change_flags(mode="bad"):
        pass
    assert cfg.mode == "PY"


def test_copies_and_pickles_are_independent():
    cfg = load_config({"CGRAPH_FLAGS": "floatX=float32"})
    twin = copy.copy(cfg)
    twin.floatX = "float64"
    assert cfg.floatX == "float32" and cfg.source_of("floatX") == "CGRAPH_FLAGS"
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and back.source_of("floatX") == "CGRAPH_FLAGS"


def _python(code: str, **env: str) -> str:
    full = dict(os.environ, **env)
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_environment_and_rc_reach_the_package_at_import(tmp_path):
    rc = _rc(tmp_path / "rc", "[global]\nexception_verbosity = high\nfloatX = float32\n")
    out = _python("import cgraph, cgraph.tensor as T; c = cgraph.config; "
                  "print(c.floatX, c.optimizer, c.exception_verbosity, T.matrix().dtype)",
                  CGRAPH_FLAGS="optimizer=fast_compile,floatX=float64", CGRAPHRC=str(rc))
    assert out == "float64 fast_compile high float64"
    bad = subprocess.run([sys.executable, "-c", "import cgraph"], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, CGRAPH_FLAGS="floatx=1"))
    assert bad.returncode != 0 and "did you mean 'floatX'" in bad.stderr


@pytest.mark.slow
def test_flags_change_what_is_built(tmp_path):
    x = T.dvector("x")
    with cgraph.config.change_flags(cache_dir=str(tmp_path / "cache")):
        f = cgraph.function([x], T.exp(x) * 5.875)
    assert Path(f.c_path).is_relative_to(tmp_path / "cache")
    with cgraph.config.change_flags(mode="PY"):
        assert cgraph.function([x], x * 2.0).mode == "PY"
    with cgraph.config.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32"
    with cgraph.config.change_flags(openmp=True, num_threads=2):
        opts = build_options(cgraph.config)
        g = cgraph.function([x], T.exp(x) * 6.125)
    assert "-fopenmp" in opts.cflags and "-DCG_NUM_THREADS=2" in opts.cflags
    assert "-fopenmp" in opts.extra_link_args and "-fopenmp" not in build_options(
        cgraph.config).cflags
    assert float(g([0.0])[0]) == 6.125
    assert "-fopenmp" in " ".join(g.build_options.cflags)


# ------------------------------------------------------------- one place per fact

PACKAGE = Path(cgraph.__file__).resolve().parent
ROOT = PACKAGE.parent


def _words(text: str) -> str:
    return " ".join(text.split())


def test_each_flag_is_documented_once_where_it_is_declared():
    """A flag's doc is written in its declaration only: the class docstring's
    Attributes and `describe()` (`python -m cgraph config`) are made from it."""
    source = (PACKAGE / "configdefaults.py").read_text()
    [config_class] = [node for node in ast.parse(source).body
                      if isinstance(node, ast.ClassDef) and node.name == "Config"]
    written = ast.get_docstring(config_class)
    described = _words(Config().describe())
    generated = _words(Config.__doc__)
    readme = _words((ROOT / "README.md").read_text())
    assert "python -m cgraph config" in readme
    for f in fields(Config):
        doc = f.metadata["doc"]
        assert doc.endswith(".") and len(doc) > 20, f.name
        assert f"{f.name} :" not in written, f"{f.name} is documented in the docstring too"
        assert f"{f.name} : " in Config.__doc__ and _words(doc) in generated
        assert _words(doc) in described
        assert _words(doc)[:40] not in readme, f"README repeats the doc of {f.name}"


def test_the_default_cflags_are_written_once():
    assert Config().cflags == " ".join(DEFAULT_CFLAGS) == " ".join(BuildOptions().cflags)
    holders = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                     if '"-fopenmp-simd"' in path.read_text())
    assert holders == ["backend/build.py"]


def test_build_options_are_made_in_one_place():
    """The options of every module cgraph builds (functions', the C call path's) come
    from compile/toolchain.py."""
    makers = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                    if re.search(r"\bBuildOptions\(", path.read_text())
                    and path.parent.name != "backend")
    assert makers == ["compile/toolchain.py"]
