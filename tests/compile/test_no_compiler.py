"""Without a C compiler: a clear CompilerNotFoundError, and mode "PY" still works.

The compiler is made missing for real: `config.cc` names a program that does not
exist, or a child process runs with an empty PATH (so "gcc" cannot be found).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import child_env

import cgraph
import cgraph.tensor as T
from cgraph.backend import CompileError, CompilerNotFoundError, cache_list


@pytest.fixture
def cc():
    """Set cgraph.config.cc for one test."""
    saved = cgraph.config.cc

    def set_cc(value: str) -> None:
        cgraph.config.cc = value

    yield set_cc
    cgraph.config.cc = saved


def assert_helpful(message: str, compiler: str) -> None:
    assert f"cannot run {compiler!r}" in message
    assert "apt-get install build-essential" in message
    assert 'mode="PY"' in message
    assert "exit status" not in message and "reproduce with" not in message


def test_missing_compiler_path_raises_compiler_not_found(fresh_cache, tmp_path, cc):
    missing = str(tmp_path / "no-such-dir" / "gcc-404")
    cc(missing)
    x = T.dvector("x")
    with pytest.raises(CompilerNotFoundError) as info:
        cgraph.function([x], x * 2.0 + 1.0)
    err = info.value
    assert isinstance(err, CompileError) and err.cc == missing
    assert_helpful(str(err), missing)
    assert "no such file" in str(err)
    # Nothing was cached or kept as a "failed build": there was nothing to compile with.
    assert cache_list() == [] and not (fresh_cache / "failed").exists()
    assert not [p for p in fresh_cache.iterdir() if p.name.startswith(".tmp-")]
    # The same graph runs in mode "PY", which needs no compiler.
    f = cgraph.function([x], x * 2.0 + 1.0, mode="PY")
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0) * 2 + 1)


def test_compiler_that_cannot_be_executed(fresh_cache, tmp_path, cc):
    fake = tmp_path / "gcc"
    fake.write_text("not a program\n")
    fake.chmod(0o644)  # found by path, but not executable
    cc(str(fake))
    x = T.dvector("x")
    with pytest.raises(CompilerNotFoundError, match="not executable"):
        cgraph.function([x], x - 3.0)
    # A name that is not on PATH at all.
    cc("cgraph-test-no-such-compiler")
    with pytest.raises(CompilerNotFoundError, match="not found on PATH"):
        cgraph.function([x], x - 4.0)


def test_a_cached_module_loads_without_a_compiler(fresh_cache, cc):
    """Only compiling needs the compiler: once built, the module loads from the memo."""
    x = T.dvector("x")
    f = cgraph.function([x], x * 5.0)
    cc("cgraph-test-no-such-compiler")
    with pytest.raises(CompilerNotFoundError):
        cgraph.function([x], x * 6.0)
    np.testing.assert_array_equal(f(np.ones(2)), [5.0, 5.0])


CHILD = r"""
import json, numpy as np
import cgraph, cgraph.tensor as T
x = T.dvector("x")
out = {"py": cgraph.function([x], T.exp(x) * 2.0, mode="PY")(np.zeros(3)).tolist()}
try:
    cgraph.function([x], T.exp(x) * 2.0)
except cgraph.backend.CompilerNotFoundError as err:
    out["error"] = str(err)
    out["is_compile_error"] = isinstance(err, cgraph.backend.CompileError)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_empty_path_in_a_child_process(tmp_path):
    """With PATH emptied, importing works, PY mode works, C mode says what to do."""
    env = child_env(PATH="", CGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    for name in ("CC", "CGRAPH_FLAGS"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["py"] == [2.0, 2.0, 2.0]
    assert out["is_compile_error"]
    assert_helpful(out["error"], "gcc")
    assert "PATH is empty" in out["error"]
    # `import cgraph` and the command line also work with no compiler at all.
    proc = subprocess.run([sys.executable, "-m", "cgraph", "cache", "info"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
