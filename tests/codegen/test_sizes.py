"""Sizes never wrap: shapes past numpy's size limit are a ValueError naming the node, an
allocation that cannot be had is a MemoryError naming the array, its node, the input
shapes and the byte count (the same on every call), and reshape follows numpy's -1 rule.

Cases that crashed the process (kernels running over a wrapped row count) run in a
child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import MODES, child_env

import cgraph
import cgraph.tensor as T
from cgraph.codegen import ShapeError, make_plan
from cgraph.tensor.basic_ops import resolve_shape
from cgraph.tensor.extra_ops import arange_length
from cgraph.tensor.shape import MAX_BYTES, checked_size
from cgraph.tensor.type import TensorType

# Each case builds (inputs, output, arguments); the child runs it in both modes and
# prints the exception each call raised.
CHILD = r"""
import json, sys
import numpy as np
import cgraph, cgraph.tensor as T

cgraph.config.c_call = False  # every case fails while planning, in the Python path
cgraph.config.cflags = "-O0"

def reshape_sum():
    x = T.dvector("x")
    return [x], T.reshape(x, (2**62 + 1, 4)).sum(axis=0), [np.arange(4.0)]

def reshape_max():
    x = T.dvector("x")
    return [x], T.max(T.reshape(x, (2**62 + 1, 4)), axis=0), [np.arange(4.0)]

def ones_sum():
    return [], T.ones((2**32, 2**32)).sum(), []

def eye_sum():
    return [], T.eye(2**32).sum(), []

def tile_sum():
    x = T.dvector("x")
    return [x], T.tile(x, (2**62,)).sum(), [np.arange(4.0)]

def alloc_past_int64():
    n = T.lscalar("n")
    return [n], T.exp(T.ones((n, n))).sum(), [2**31 + 5]

for name in sys.argv[1:]:
    for mode in ("C", "PY"):
        inputs, out, args = globals()[name]()
        f = cgraph.function(inputs, out, mode=mode)
        got = []
        for _ in range(2):
            try:
                got.append(["returned", repr(f(*args))])
            except Exception as err:
                got.append([type(err).__name__, str(err)])
        print(json.dumps([name, mode, got]), flush=True)
"""
WRAPPING = ["reshape_sum", "reshape_max", "ones_sum", "eye_sum", "tile_sum",
            "alloc_past_int64"]


def run_child(names: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *names], capture_output=True,
                          text=True, timeout=120, env=child_env())
    assert proc.returncode == 0, f"the child died ({proc.returncode}): {proc.stderr[-2000:]}"
    results = {}
    for line in proc.stdout.splitlines():
        name, mode, got = json.loads(line)
        results[name, mode] = got
    return results


@pytest.fixture(scope="module")
def wrapping_results() -> dict:
    return run_child(WRAPPING)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", WRAPPING)
def test_sizes_past_int64_are_a_value_error_naming_the_node(wrapping_results, name, mode):
    """Products that wrapped in int64 (SIGSEGV, or a bare OverflowError) raise a ValueError
    with numpy's meaning, naming the node and the shapes, on every call, in both modes."""
    first, second = wrapping_results[name, mode]
    assert first == second
    kind, message = first
    assert kind in ("ValueError", "ShapeError"), first
    assert "too big" in message or "cannot reshape" in message, message
    assert "in node" in message and "input shapes" in message, message


def test_numpy_refuses_the_same_sizes():
    """The reference: numpy raises ValueError for these shapes too."""
    with pytest.raises(ValueError):
        np.empty((2**32, 2**32))
    with pytest.raises(ValueError):
        np.arange(4.0).reshape(2**62 + 1, 4)


# ----------------------------------------------------------------- size rules


def test_checked_size_is_exact_and_refuses_past_numpys_limit():
    assert checked_size((2**31, 2**31), "int8") == 2**62
    assert checked_size((), "float64") == 1
    assert checked_size((MAX_BYTES,), None) == MAX_BYTES
    with pytest.raises(ValueError, match="too big"):
        checked_size((2**32, 2**32), "float64")
    with pytest.raises(ValueError, match="too big"):
        checked_size((2**62 + 1, 4), "int8")  # 2**64 + 4 elements: wraps to 4 in int64
    with pytest.raises(ValueError, match="negative"):
        checked_size((3, -1))


def test_resolve_shape_refuses_a_target_whose_product_wraps():
    with pytest.raises(ValueError, match="cannot reshape"):
        resolve_shape((2**62 + 1, 4), 4, (4,))
    with pytest.raises(ValueError, match="cannot reshape"):
        resolve_shape((2**62 + 1, -1), 4, (4,))
    assert resolve_shape((2, -1), 6, (6,)) == (2, 3)


@pytest.mark.parametrize("args", [(0, 10, 1), (10, 0, -3), (0.5, 3.2, 1.0), (1, 2, 0.1),
                                  (-7, 5, 2), (3, 3, 1), (0, -5, 1), (0.0, 1.0, 0.3),
                                  (2**53, 2**53 + 10, 3), (-1e-3, 1e-3, 7e-5)])
def test_arange_length_is_numpys(args):
    assert arange_length(*args) == len(np.arange(*args))


def test_arange_length_refuses_what_numpy_refuses():
    for args in [(0, float("inf"), 1), (0, float("nan"), 1), (5, float("-inf"), 1),
                 (0, 1e300, 1e-300)]:
        with pytest.raises(ValueError):
            np.arange(*args)
        with pytest.raises(ValueError):
            arange_length(*args)


@pytest.mark.parametrize("mode", MODES)
def test_arange_matches_numpy(mode):
    a, b, c = T.dscalar("a"), T.dscalar("b"), T.dscalar("c")
    f = cgraph.function([a, b, c], T.arange(a, b, c), mode=mode)
    for args in [(0.0, 10.0, 1.0), (0.5, 3.2, 1.0), (10.0, 0.0, -3.0), (1.0, 2.0, 0.1),
                 (3.0, 3.0, 1.0)]:
        got, want = f(*args), np.arange(*args)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_arange_values_are_numpys_bit_for_bit(dtype):
    """numpy fills start, start + step, then start + j * delta in the output dtype."""
    a, b, c = T.dscalar("a"), T.dscalar("b"), T.dscalar("c")
    f = cgraph.function([a, b, c], T.arange(a, b, c, dtype=dtype))
    rng = np.random.default_rng(0)
    for _ in range(200):
        start, step = rng.uniform(-10, 10), rng.uniform(0.01, 1) * rng.choice([-1, 1])
        stop = start + step * rng.integers(0, 60)
        np.testing.assert_array_equal(f(start, stop, step),
                                      np.arange(start, stop, step, dtype=dtype))


# ----------------------------------------------------------------- the plan


def test_the_plan_refuses_a_fused_sum_over_too_many_elements():
    """A broadcast loop of 2**64 elements (inputs of 4 GiB each) is refused from the
    shapes alone, as numpy refuses to make x * y."""
    x = TensorType("int8", (None, 1))("x")
    y = TensorType("int8", (1, None))("y")
    f = cgraph.function([x, y], (x * y).sum(dtype="int8"))
    with pytest.raises(ShapeError, match="too big") as info:
        make_plan(f._lowered, ((2**32, 1), (1, 2**32)))
    assert "in node" in str(info.value)
    assert make_plan(f._lowered, ((3, 1), (1, 4))).out_shapes == ((),)


def test_the_plan_refuses_an_elementwise_result_past_the_limit():
    x = TensorType("float64", (None, 1))("x")
    y = TensorType("float64", (1, None))("y")
    f = cgraph.function([x, y], T.exp(x * y))
    with pytest.raises(ShapeError, match="too big"):
        make_plan(f._lowered, ((2**32, 1), (1, 2**32)))


# ----------------------------------------------------------------- allocation failures


def outer4(x):
    """A float64 array of len(x)**4 elements computed from the vector x."""
    return (x.dimshuffle(0, "x", "x", "x") * x.dimshuffle("x", 0, "x", "x")
            * x.dimshuffle("x", "x", 0, "x") * T.exp(x).dimshuffle("x", "x", "x", 0))


def failures(f, *args, calls=3) -> list:
    found = []
    for _ in range(calls):
        with pytest.raises(MemoryError) as info:
            f(*args)
        found.append(str(info.value))
    return found


def test_a_workspace_that_cannot_be_allocated_is_a_memory_error_naming_it():
    """A 648 TB intermediate: MemoryError naming the node, its shape and the size, the
    same on every call (the first plans on the Python path, later ones reach the C call
    path), and a call with other shapes still works."""
    x = T.dvector("x")
    f = cgraph.function([x], T.max(outer4(x)))
    big = np.full(3000, 0.5)
    messages = failures(f, big)
    assert len(set(messages)) == 1, messages
    text = messages[0]
    assert "cannot allocate the workspace" in text
    assert "(3000, 3000, 3000, 3000)" in text and "648000000000000 bytes" in text
    assert "input shapes (3000,)" in text
    assert "the output of node [id " in text
    small = np.array([0.5, 2.0])
    assert f(small) == pytest.approx(np.max(2.0**3 * np.exp(small)))


def test_a_workspace_past_int64_bytes_is_a_memory_error():
    """Two live 4 EiB buffers: each is a valid array, their sum is no byte count."""
    n = T.lscalar("n")
    f = cgraph.function([n], T.dot(T.ones(n), T.zeros(n) + 2.0))
    for text in failures(f, 2**59, calls=2):
        assert "cannot allocate the workspace" in text, text
        assert f"({2**59},)" in text and "the output of node" in text
    assert f(3) == 6.0


@pytest.mark.parametrize("mode", MODES)
def test_an_output_that_cannot_be_allocated_is_a_memory_error_naming_it(mode):
    x, y = T.dvector("x"), T.dvector("y")
    f = cgraph.function([x, y], [x.sum(), T.outer(x, y)], mode=mode)
    big = np.ones(12_000_000)
    messages = failures(f, big, big, calls=2)
    assert len(set(messages)) == 1
    text = messages[0]
    assert "(12000000, 12000000)" in text and "node" in text
    if mode == "C":
        assert "cannot allocate output 1: 1152000000000000 bytes" in text
        assert "input shapes (12000000,), (12000000,)" in text


def test_an_arange_too_long_to_allocate_is_a_memory_error_naming_its_node():
    """The length is computed, not made: the plan never allocates the range itself."""
    n = T.lscalar("n")
    f = cgraph.function([n], T.arange(n).sum())
    for text in failures(f, 2**47, calls=2):
        assert "cannot allocate" in text and "ARange" in text, text
    assert f(5) == 10


# ----------------------------------------------------------------- reshape's -1


@pytest.mark.parametrize("mode", MODES)
def test_reshape_with_minus_one_next_to_a_zero_length_is_refused_as_numpy(mode):
    x = T.dvector("x")
    f = cgraph.function([x], T.reshape(x, (0, -1)), mode=mode)
    with pytest.raises(ValueError):
        np.zeros(0).reshape(0, -1)
    with pytest.raises(ValueError, match="ambiguous"):
        f(np.zeros(0))
    m = T.dmatrix("m")
    g = cgraph.function([m], T.reshape(m, (-1, 0)), mode=mode)
    with pytest.raises(ValueError, match="ambiguous"):
        g(np.zeros((0, 3)))


@pytest.mark.parametrize("mode", MODES)
def test_reshape_of_empty_arrays_still_follows_numpy(mode):
    m = T.dmatrix("m")
    n = T.lscalar("n")
    f = cgraph.function([m, n], [T.reshape(m, (-1, 3)), T.reshape(m, (n, 5))], mode=mode)
    a, b = f(np.zeros((0, 3)), 0)
    assert a.shape == np.zeros((0, 3)).reshape(-1, 3).shape
    assert b.shape == np.zeros((0, 3)).reshape(0, 5).shape


def test_reshape_with_an_ambiguous_minus_one_is_refused_when_built():
    x = TensorType("float64", (0,))("x")
    with pytest.raises(ValueError, match="ambiguous"):
        T.reshape(x, (0, -1))


MALLOC_FAILS_IN_C = """
import resource, numpy as np, cgraph, cgraph.tensor as T
cgraph.config.c_call = {c_call}
x = T.dmatrix("x")
y = T.dot(x, x)
f = cgraph.function([x], T.sum(y * y))
v = np.ones((3000, 3000)) * 0.001
f(v)  # planned (its trial allocation succeeds), then the address space shrinks
vm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize")][0]
resource.setrlimit(resource.RLIMIT_AS, (vm + 16 * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))
for _ in range(2):
    try:
        f(v)
        print("ran")
    except MemoryError as err:
        print("MemoryError:", err)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan's shadow memory does not fit a limited address space")
@pytest.mark.slow  # a child process each (~9 s)
@pytest.mark.parametrize("c_call", [True, False], ids=["c-path", "python-path"])
def test_a_workspace_the_c_cannot_allocate_is_a_memory_error_with_its_size(c_call):
    """The plan's trial allocation succeeded, the C's own malloc fails later: a
    MemoryError naming the bytes on every call, on both call paths (not a RuntimeError,
    nor an empty MemoryError)."""
    proc = subprocess.run([sys.executable, "-c", MALLOC_FAILS_IN_C.format(c_call=c_call)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines == ["MemoryError: " + ("" if c_call else "compiled function failed: ")
                     + "cgraph: cannot allocate 72000000 bytes of workspace"] * 2
