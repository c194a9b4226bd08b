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

import pytest
from helpers import find_test_file, sanitizer_runtimes

import cgraph
import cgraph.tensor as T
from cgraph.compile.function import build_options

# Test file -> the -k expression of its sanitized run (None: all of it). Sanitized builds
# compile several times slower, so CI runs the part that keeps the run bounded: indexing,
# products, bad input, the fuzzer, the C call path, sizes and values, contraction; each
# file is one test here, so pytest's progress moves file by file. The rest of the op
# tests (elementwise, reductions, shape ops, plans, loops) joins with
# CGRAPH_SANITIZE_ALL=1: 265 tests of the earlier whole selection took 14 min 20 s on the
# shared 2-core machine (cold cache), with zero sanitizer reports.
CI_SELECTION: dict[str, str | None] = {
    "test_bad_input.py": None,
    "test_subtensor.py": None,
    "test_blas.py": None,
    "test_fuzz.py": None,
    "test_fastcall.py": None,
    "test_values_in.py": None,
    "test_sizes.py": None,
    "test_fp_contract.py": None,
    # the kernels of conv2d, conv3d, pool_2d and batch normalization on edge shapes
    "test_nnet_edges.py": None,
    "test_conv_direct.py": None,
    # the sanitizer run of the full tables is the test itself; the forks are not re-run
    "test_fastcall_limits.py": "not sanitizer_clean and not fork",
}
MORE_SELECTION: dict[str, str | None] = {
    "test_plan_values.py": None,
    "test_loop.py": None,
    "test_ops.py": None,
    "test_shape_ops.py": None,
    # the per-dtype repeats of one reduction test are left out
    "test_reduce.py": "not (test_every_reduction_every_axis and not float64)",
    # the convolution, pooling and batch-normalization tests
    "test_conv.py": None,
    "test_conv3d.py": None,
    "test_pool.py": None,
    "test_bn.py": None,
}
FULL = os.environ.get("CGRAPH_SANITIZE_ALL") == "1"
SELECTION = {**CI_SELECTION, **MORE_SELECTION} if FULL else CI_SELECTION
FUZZ_EXAMPLES = "15"
# A malloc that cannot be had returns NULL, as without ASan (whose default is to abort):
# the size tests check that cgraph turns it into a MemoryError.
ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"


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


@pytest.fixture(scope="module")
def sanitized_cache(tmp_path_factory):
    """One cache for the sanitized runs of all the selected files."""
    return tmp_path_factory.mktemp("sanitized-cache")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SELECTION))
def test_suite_selection_is_sanitizer_clean(name, sanitized_cache):
    """The file's tests (a named file runs whole, slow tests too) pass in a child pytest
    whose modules are built with the sanitizers, and no sanitizer reports anything."""
    libs = sanitizer_runtimes()
    if not libs:
        pytest.skip("gcc's sanitizer runtimes are not installed")
    env = dict(os.environ, LD_PRELOAD=":".join(libs), CGRAPH_FLAGS="sanitize=True",
               ASAN_OPTIONS=ASAN_OPTIONS, UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               CGRAPH_CACHE_DIR=str(sanitized_cache), CGRAPH_FUZZ_EXAMPLES=FUZZ_EXAMPLES)
    select = ["-k", SELECTION[name]] if SELECTION[name] else []
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *select, str(find_test_file(name))],
                          env=env, capture_output=True, text=True, timeout=1500)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    print(f"sanitized {name}: {time.monotonic() - started:.0f} s; {summary}")
    report = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    for marker in ("runtime error", "AddressSanitizer", "LeakSanitizer", "SUMMARY:"):
        assert marker not in proc.stdout + proc.stderr, report
    assert " passed" in summary and "failed" not in summary and "error" not in summary
    assert int(summary.split(" passed")[0].split()[-1]) > 0  # the file really ran


@pytest.mark.slow
def test_sanitizer_catches_an_out_of_bounds_read(tmp_path):
    """The set-up really reports errors: a kernel reading past its input aborts."""
    libs = sanitizer_runtimes()
    if not libs:
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
