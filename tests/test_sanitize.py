"""Generated C under AddressSanitizer and UndefinedBehaviorSanitizer.

`cgraph.config.sanitize` (or CGRAPH_FLAGS=sanitize=True) builds every module with
-fsanitize=address,undefined; Python itself is not instrumented, so the sanitizer
runtimes are preloaded. A selection of the suite runs in that mode in a child
process, which any sanitizer report aborts (halt_on_error).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cgraph
import cgraph.tensor as T
from cgraph.compile.function import build_options

TESTS = Path(__file__).resolve().parent
# The op tests (elementwise, reductions, shape ops, indexing, BLAS products), the
# fuzzer and the bad-input tests. Sanitized builds compile several times slower: the
# whole selection (265 tests) took 14 min 20 s on the shared 2-core machine (cold
# cache), with zero sanitizer reports: CGRAPH_SANITIZE_ALL=1 runs it. CI runs the part
# that keeps the run bounded: indexing, products, bad input and the fuzzer.
FULL_SELECTION = ["test_bad_input.py", "test_plan_values.py", "test_loop.py", "test_ops.py",
                  "test_shape_ops.py", "test_reduce.py", "test_subtensor.py", "test_blas.py",
                  "test_fuzz.py", "test_fastcall.py"]
CI_SELECTION = ["test_bad_input.py", "test_subtensor.py", "test_blas.py", "test_fuzz.py",
                "test_fastcall.py"]
FULL = os.environ.get("CGRAPH_SANITIZE_ALL") == "1"
SELECTION = FULL_SELECTION if FULL else CI_SELECTION
DESELECT = "not (test_every_reduction_every_axis and not float64)"
FUZZ_EXAMPLES = "15"


def runtime(name: str) -> str:
    out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True)
    return out.stdout.strip()


def test_sanitize_flag_reaches_the_compiler():
    saved = cgraph.config.sanitize
    cgraph.config.sanitize = "true"
    try:
        assert cgraph.config.sanitize is True
        opts = build_options(cgraph.config)
        assert "-fsanitize=address,undefined" in opts.cflags
        assert "-fsanitize=address,undefined" in opts.extra_link_args
    finally:
        cgraph.config.sanitize = saved
    with pytest.raises(ValueError, match="boolean"):
        cgraph.config.sanitize = "maybe"


@pytest.mark.slow
def test_suite_selection_is_sanitizer_clean(tmp_path):
    libs = [runtime("libasan.so"), runtime("libubsan.so")]
    if not all(os.path.isabs(p) and os.path.exists(p) for p in libs):
        pytest.skip("gcc's sanitizer runtimes are not installed")
    env = dict(os.environ, LD_PRELOAD=":".join(libs), CGRAPH_FLAGS="sanitize=True",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               CGRAPH_CACHE_DIR=str(tmp_path), CGRAPH_FUZZ_EXAMPLES=FUZZ_EXAMPLES)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-k", DESELECT, *[str(TESTS / t) for t in SELECTION]],
                          env=env, capture_output=True, text=True, timeout=2400)
    print(f"sanitized selection: {time.monotonic() - started:.0f} s; "
          f"{proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ''}")
    report = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    for marker in ("runtime error", "AddressSanitizer", "LeakSanitizer", "SUMMARY:"):
        assert marker not in proc.stdout + proc.stderr, report
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
    ran = int(summary.split(" passed")[0].split()[-1])
    assert ran > (200 if FULL else 50)  # the selection really ran


def test_sanitizer_catches_an_out_of_bounds_read(tmp_path):
    """The set-up really reports errors: a kernel reading past its input aborts."""
    libs = [runtime("libasan.so"), runtime("libubsan.so")]
    if not all(os.path.isabs(p) and os.path.exists(p) for p in libs):
        pytest.skip("gcc's sanitizer runtimes are not installed")
    code = (
        "import numpy as np, cgraph, cgraph.tensor as T\n"
        "x = T.dvector('x')\n"
        "f = cgraph.function([x], x * 2.0)\n"
        "P = np.array(f._plan(((4096,),), [np.zeros(4096)])[2])\n"
        "P[P == 4096] = 8192  # lie about the size: the loop reads past the input\n"
        "getattr(f._module.lib, f._lowered.program.entry)(\n"
        "    f._from_buffer('int64_t[]', P), f._module.ffi.new('char[512]'),\n"
        "    f._from_buffer(np.zeros(4096)), f._from_buffer(np.zeros(8192)))\n"
    )
    env = dict(os.environ, LD_PRELOAD=":".join(libs), CGRAPH_FLAGS="sanitize=True",
               ASAN_OPTIONS="detect_leaks=0", CGRAPH_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and "heap-buffer-overflow" in proc.stderr


def test_sanitize_is_off_by_default():
    x = T.dvector("x")
    f = cgraph.function([x], x + 1.0)
    assert not any("sanitize" in flag for flag in f.build_options.cflags)
