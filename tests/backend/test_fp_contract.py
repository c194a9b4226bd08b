"""Compiled float arithmetic rounds each operation as numpy does: no FMA contraction.

gcc contracts `a*b + c` into one fused multiply-add by default (-ffp-contract=fast),
which rounds once instead of twice: `a*a - b*b` with a == b then gives the rounding
error of a*a (half the time negative, so its sqrt is NaN) where numpy gives 0.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.backend import default_options
from cgraph.backend.build import BASE_FLAGS, compile_command

N = 20_000


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_difference_of_equal_squares_is_zero(dtype):
    a, b = T.vector("a", dtype=dtype), T.vector("b", dtype=dtype)
    f = cgraph.function([a, b], T.sqrt(a * a - b * b))
    x = np.random.default_rng(0).standard_normal(N).astype(dtype) * 3
    got = f(x, x.copy())
    assert got.dtype == dtype
    assert np.array_equal(got, np.sqrt(x * x - x * x)), (
        f"{np.isnan(got).sum()} of {N} elements are NaN where numpy gives 0")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_multiply_add_rounds_like_numpy(dtype):
    a, b, c = (T.vector(n, dtype=dtype) for n in "abc")
    f = cgraph.function([a, b, c], [a * b + c, c - a * b, a * a - b * c])
    rng = np.random.default_rng(1)
    x, y, z = (rng.standard_normal(N).astype(dtype) for _ in range(3))
    expected = [x * y + z, z - x * y, x * x - y * z]
    for k, (got, want) in enumerate(zip(f(x, y, z), expected)):
        assert got.dtype == want.dtype
        differ = np.count_nonzero(got.view(np.uint8) != want.view(np.uint8))
        assert differ == 0, f"output {k}: {differ} bytes differ from numpy"


def test_every_module_is_compiled_without_contraction():
    """The flag is part of every compile command, whatever cflags are configured."""
    assert "-ffp-contract=off" in BASE_FLAGS
    command = compile_command(default_options(), "m.c", "m.so")
    assert "-ffp-contract=off" in command
    assert "-ffp-contract=fast" not in command


def test_exported_makefile_does_not_contract(tmp_path):
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    f = cgraph.function([x, y, z], x * y + z)
    f(np.ones(3), np.ones(3), np.ones(3))
    out = cgraph.export_c(f, tmp_path / "lib", name="fma")
    makefile = (out / "Makefile").read_text()
    flags = re.findall(r"-ffp-contract=\w+", makefile)
    assert flags and flags[-1] == "-ffp-contract=off", flags
    done = subprocess.run(["make", "-n"], cwd=out, capture_output=True, text=True)
    if done.returncode == 0:  # make is installed: the compile line itself
        compile_line = next(ln for ln in done.stdout.splitlines() if " -c " in ln)
        assert re.findall(r"-ffp-contract=\w+", compile_line)[-1] == "-ffp-contract=off"
