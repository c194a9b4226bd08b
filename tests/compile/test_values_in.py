"""Values entering a compiled function: shared storage and arguments.

A shared variable's storage is written in place by updates, so it must be memory that
may be written (a read-only array given with borrow=True is copied); a Python int never
wraps around into an integer input or shared variable; a big-endian array becomes a
shared variable of the native dtype, as an argument does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T

# ----------------------------------------------------------- read-only borrowed storage

_READ_ONLY_STEP = """
import mmap, sys
import numpy as np
import cgraph, cgraph.tensor as T

source, path = sys.argv[1], sys.argv[2]
start = np.array([0.5, 1.0, -2.0, 3.0])
start.tofile(path)

def read_only():
    if source == "bytes":
        return np.frombuffer(start.tobytes(), dtype=np.float64)
    if source == "memmap":
        return np.memmap(path, dtype=np.float64, mode="r")
    if source == "mmap":
        with open(path, "rb") as fh:
            return np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ),
                                 dtype=np.float64)
    arr = start.copy()
    arr.setflags(write=False)
    return arr

xs = np.array([[1.0, 2.0, 0.0, -1.0], [0.5, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
for how in ("shared", "set_value"):
    for call in ("c", "python", "loop"):
        value = read_only()
        before = np.array(value, copy=True)
        with cgraph.config.change_flags(c_call=call != "python"):
            if how == "shared":
                w = cgraph.shared(value, borrow=True, name="w")
            else:
                w = cgraph.shared(np.zeros(4), name="w")
                w.set_value(value, borrow=True)
            x = T.dvector("x")
            f = cgraph.function([x], (w * x).sum(), updates=[(w, w - 0.5 * x)])
            if call == "loop":
                f.loop(xs)
            else:
                for row in xs:
                    f(row)
        expected = start - 0.5 * xs.sum(axis=0)
        assert np.array_equal(w.get_value(), expected), (how, call, w.get_value())
        assert np.array_equal(value, before), (how, call, "the read-only value changed")
        assert np.array_equal(np.fromfile(path), start), (how, call, "the file changed")
        print(how, call, "ok")
"""


@pytest.mark.parametrize("source", ["bytes", "memmap", "mmap", "setflags"])
def test_updates_never_write_a_read_only_borrowed_value(source, tmp_path):
    """Training steps on a shared variable borrowed from read-only memory (a read-only
    mapping crashed the process; bytes were mutated) leave that memory untouched, in
    the C call path, the Python call path and Function.loop."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_READ_ONLY_STEP), source,
         str(tmp_path / "w.bin")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert proc.stdout.count(" ok") == 6, proc.stdout


def test_borrow_keeps_writeable_storage():
    """borrow=True still shares a writeable C-contiguous array (get_value(borrow=True)
    is that array, and updates are seen through it); get_value() copies."""
    w0 = np.arange(4.0)
    w = cgraph.shared(w0, borrow=True)
    assert w.get_value(borrow=True) is w0
    assert w.get_value() is not w0 and np.array_equal(w.get_value(), w0)
    x = T.dvector("x")
    f = cgraph.function([x], [], updates=[(w, w + x)])
    f(np.ones(4))
    assert np.array_equal(w.get_value(borrow=True), np.arange(4.0) + 1)
    v = np.zeros(4)
    w.set_value(v, borrow=True)
    assert w.get_value(borrow=True) is v
    w.set_value(v)
    assert w.get_value(borrow=True) is not v


def test_borrow_copies_what_cannot_be_written_in_place():
    """A read-only, unaligned or strided value given with borrow=True is copied into
    writeable, aligned, C-contiguous storage of equal value."""
    ro = np.arange(6.0)
    ro.setflags(write=False)
    unaligned = np.frombuffer(bytearray(8 * 6 + 1), dtype=np.float64, offset=1, count=6)
    unaligned[:] = np.arange(6.0)
    strided = np.arange(12.0)[::2]
    for value in (ro, unaligned, strided):
        w = cgraph.shared(value, borrow=True)
        v = cgraph.shared(np.zeros(1))
        v.set_value(value, borrow=True)
        for stored in (w.get_value(borrow=True), v.get_value(borrow=True)):
            assert stored is not value and not np.shares_memory(stored, value)
            assert stored.flags.writeable and stored.flags.aligned
            assert stored.flags.c_contiguous
            assert np.array_equal(stored, value)
    ro_bytes = np.frombuffer(b"\x00" * 16, dtype=np.float64)
    v.set_value(memoryview(ro_bytes))  # a read-only buffer, not an ndarray
    assert v.get_value(borrow=True).flags.writeable
    assert not np.shares_memory(v.get_value(borrow=True), ro_bytes)


# ----------------------------------------------------------------- Python ints in range

_INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def _int_function(dtype: str, c_call: bool, **kwargs):
    with cgraph.config.change_flags(c_call=c_call):
        x = T.scalar("x", dtype=dtype)
        return cgraph.function([x], x + np.array(0, dtype=dtype), **kwargs)


@pytest.mark.parametrize("c_call", [True, False], ids=["c", "python"])
@pytest.mark.parametrize("dtype", _INT_DTYPES)
def test_python_ints_that_fit_keep_their_value(dtype, c_call):
    info = np.iinfo(dtype)
    f = _int_function(dtype, c_call)
    for value in (0, 1, int(info.min), int(info.max), int(info.max) - 1, 3):
        out = f(value)
        assert out.dtype == np.dtype(dtype) and int(out) == value, (value, out)
    assert int(f(np.dtype(dtype).type(5))) == 5  # numpy ints: of the dtype, or cast safely
    if dtype != "int8":
        assert int(f(np.uint8(5))) == 5


@pytest.mark.parametrize("c_call", [True, False], ids=["c", "python"])
@pytest.mark.parametrize("downcast", [None, True], ids=["default", "downcast"])
@pytest.mark.parametrize("dtype", _INT_DTYPES)
def test_python_ints_out_of_range_raise_naming_the_input(dtype, downcast, c_call):
    """2**63 for int64, -1 for uint64, 300 for uint8: a TypeError naming the input, in
    both call paths (the C path after a first call has made its plan), with or without
    allow_input_downcast; never a wrapped value."""
    info = np.iinfo(dtype)
    f = _int_function(dtype, c_call, allow_input_downcast=downcast)
    assert int(f(1)) == 1
    for value in (int(info.max) + 1, int(info.min) - 1, 2**64, -(2**64), 2**100):
        with pytest.raises(TypeError, match=rf"input 0 \(x\).*{value}.*out of bounds"):
            f(value)
    assert int(f(2)) == 2


@pytest.mark.parametrize("c_call", [True, False], ids=["c", "python"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_python_int_past_the_largest_float_names_the_input(dtype, c_call):
    """2**1100 has no float value: a TypeError naming the input, not a bare
    OverflowError; ints that fit still convert as numpy does."""
    with cgraph.config.change_flags(c_call=c_call):
        x = T.scalar("x", dtype=dtype)
        f = cgraph.function([x], x * 2)
    assert float(f(3)) == 6.0
    with pytest.raises(TypeError, match=r"input 0 \(x\).*out of the range"):
        f(2**1100)
    assert float(f(2**60)) == float(np.asarray(2.0**61, dtype))


@pytest.mark.parametrize("c_call", [True, False], ids=["c", "python"])
def test_int_conversion_rules_are_unchanged(c_call):
    """A float for an integer input is refused unless allow_input_downcast (then it is
    truncated); allow_input_downcast=False refuses an int64 Python int for int32."""
    f = _int_function("int64", c_call)
    f(1)
    with pytest.raises(TypeError, match="input 0"):
        f(2.5)
    assert int(_int_function("int64", c_call, allow_input_downcast=True)(2.7)) == 2
    strict = _int_function("int32", c_call, allow_input_downcast=False)
    strict(np.int32(1))
    with pytest.raises(TypeError, match="input 0"):
        strict(5)
    assert int(_int_function("int32", c_call)(5)) == 5


@pytest.mark.parametrize("c_call", [True, False], ids=["c", "python"])
def test_lists_of_python_ints_out_of_range_raise(c_call):
    with cgraph.config.change_flags(c_call=c_call):
        x, u = T.lvector("x"), T.vector("u", dtype="uint64")
        f = cgraph.function([x, u], [x - 1, u - np.uint64(1)])
    a, b = f([1, -(2**63) + 1], [2**64 - 1, 2**63])
    assert a.tolist() == [0, -(2**63)] and b.tolist() == [2**64 - 2, 2**63 - 1]
    with pytest.raises(TypeError, match=r"input 0 \(x\).*9223372036854775808"):
        f([1, 2**63], [1, 2])
    with pytest.raises(TypeError, match=r"input 1 \(u\).*-1 is out of bounds"):
        f([1, 2], [-1, 5])
    with pytest.raises(TypeError, match=r"input 1 \(u\).*-1 is out of bounds"):
        f([1, 2], [2**64 - 1, -1])  # numpy makes float64 of these
    a, b = f([2, 3], [2**64 - 1, 1])  # float64 for numpy too, but exact here
    assert a.tolist() == [1, 2] and b.tolist() == [2**64 - 2, 0]
    a, b = f([2.0, 3.0], [1, 2])  # whole floats in a list, as before
    assert a.tolist() == [1, 2]
    with pytest.raises(TypeError, match=r"input 0 \(x\)"):
        f([2.5, 3.0], [1, 2])


def test_set_value_refuses_python_ints_out_of_range():
    count = cgraph.shared(np.int64(7), name="count")
    for value in (2**63, -(2**63) - 1):
        with pytest.raises(TypeError, match=rf"count.*{value}.*out of bounds for int64"):
            count.set_value(value)
    flags = cgraph.shared(np.zeros(3, dtype=np.uint8), name="flags")
    with pytest.raises(TypeError, match=r"flags.*300 is out of bounds for uint8"):
        flags.set_value([1, 300, 2])
    with pytest.raises(TypeError, match=r"flags.*-1 is out of bounds"):
        flags.set_value([1, -1, 2])
    assert int(count.get_value()) == 7 and flags.get_value().tolist() == [0, 0, 0]
    count.set_value(2**63 - 1)
    flags.set_value([255, 0, 1])
    assert int(count.get_value()) == 2**63 - 1 and flags.get_value().tolist() == [255, 0, 1]


# ------------------------------------------------------------------------ byte order

@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i8", ">u2", ">i4"])
def test_shared_converts_big_endian_to_native(dtype):
    be = (np.arange(6) - 2).astype(dtype) if dtype[1] != "u" else np.arange(6, dtype=dtype)
    native = np.dtype(dtype).newbyteorder("=")
    for borrow in (False, True):
        w = cgraph.shared(be, borrow=borrow, name="w")
        assert w.dtype == native.name
        stored = w.get_value(borrow=True)
        assert stored.dtype == native and stored.dtype.isnative
        assert np.array_equal(stored, be)
    v = cgraph.shared(np.zeros(6, dtype=native), name="v")
    v.set_value(be, borrow=True)
    assert v.get_value(borrow=True).dtype.isnative and np.array_equal(v.get_value(), be)
    x = T.vector("x", dtype=native.name)
    f = cgraph.function([x], w * x, updates=[(w, w + x)])
    step = np.ones(6, dtype=native)
    assert np.array_equal(f(step), be.astype(native) * step)
    assert np.array_equal(w.get_value(), be.astype(native) + step)
