"""`config.sanitize` without the sanitizer runtime preloaded: a Python error, not an exit.

A module built with AddressSanitizer can only be loaded into a process whose first
library is ASan's runtime; loaded later, the runtime ends the process from inside
dlopen. cgraph checks before compiling or loading, and says how to run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import sanitizer_runtimes

from cgraph.backend import BuildOptions, SanitizerRuntimeError
from cgraph.backend.sanitizer import _asan_runtime_loaded, check_sanitizer_runtime

LIBS = sanitizer_runtimes()
needs_runtimes = pytest.mark.skipif(
    not LIBS,
    reason="gcc's sanitizer runtimes are not installed")

CODE = """\
import numpy as np, cgraph, cgraph.tensor as T
x = T.dvector('x')
try:
    f = cgraph.function([x], x * 2.0 + 1.0)
except cgraph.backend.SanitizerRuntimeError as err:
    print('RAISED', err)
else:
    print('RESULT', f(np.arange(3.0)).tolist())
"""


def _run(tmp_path, **env_vars):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    env.update(CGRAPH_FLAGS="sanitize=True", CGRAPH_CACHE_DIR=str(tmp_path), **env_vars)
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True,
                          text=True, timeout=600)


@needs_runtimes
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_without_preload_raises_a_python_error(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 0, f"the process died:\n{proc.stderr[-2000:]}"
    assert proc.stdout.startswith("RAISED"), proc.stdout
    message = proc.stdout
    assert f"LD_PRELOAD={LIBS[0]}:{LIBS[1]}" in message
    assert "ASAN_OPTIONS=detect_leaks=0" in message and "sanitize" in message
    assert not list(tmp_path.glob("??/*")), "compiled although it could not be loaded"


@pytest.mark.slow
@needs_runtimes
def test_with_preload_the_sanitized_module_runs(tmp_path):
    proc = _run(tmp_path, LD_PRELOAD=":".join(LIBS), ASAN_OPTIONS="detect_leaks=0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "RESULT [1.0, 3.0, 5.0]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_only_address_sanitizer_builds_are_checked():
    if _asan_runtime_loaded():
        pytest.skip("this process runs with the ASan runtime preloaded")
    check_sanitizer_runtime(BuildOptions(cflags=("-O2",)))
    check_sanitizer_runtime(BuildOptions(cflags=("-fsanitize=undefined",)))
    for flags in (("-fsanitize=address",), ("-fsanitize=undefined,address", "-g")):
        with pytest.raises(SanitizerRuntimeError, match="LD_PRELOAD"):
            check_sanitizer_runtime(BuildOptions(cflags=flags))
