"""Every op, compiled to C, against numpy (computed here) and against mode "PY".

Each test compiles one function with several outputs and calls it with a few
input layouts (broadcasting, non-contiguous, zero-size), because a compile costs
about 0.3 s and a call microseconds. Expressions are written once as lambdas
that work on both symbolic tensors and numpy arrays, so the reference is numpy
evaluating the same expression, never an op's own `perform`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from helpers import MODES, rng_for
from special_twins import SPECIAL_TWINS

import cgraph
import cgraph.tensor as T

FLOATS = ("float64", "float32")
INTS = ("int64", "int32", "int8")
#: Checked by the elementwise table on top of NUMERIC (the issue's dtypes: bool, int8/16/32/64,
#: uint8, float32, float64).
MORE_INTS = ("int16", "uint8")
NUMERIC = FLOATS + INTS
TOLERANCE = {"float64": dict(rtol=1e-13, atol=1e-15), "float32": dict(rtol=2e-6, atol=1e-6)}


# --------------------------------------------------------------------------- helpers


def assert_same(actual, expected, label: str, tolerance: dict | None = None) -> None:
    """Same type, dtype, shape and values (floats to a tolerance, NaN equal to NaN)."""
    assert isinstance(actual, np.ndarray), f"{label}: got {type(actual).__name__}"
    assert actual.dtype == expected.dtype, f"{label}: dtype {actual.dtype}, numpy {expected.dtype}"
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape}, numpy {expected.shape}"
    if expected.dtype.kind == "f":
        tol = tolerance or TOLERANCE[expected.dtype.name]
        np.testing.assert_allclose(actual, expected, equal_nan=True, err_msg=label, **tol)
    elif expected.dtype.kind == "b":  # bytes, not truth values: True must be stored as 1
        np.testing.assert_array_equal(actual.view(np.uint8), expected.view(np.uint8),
                                      err_msg=label)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=label)


def compile_modes(inputs, outputs) -> dict[str, cgraph.Function]:
    """The same graph compiled in every mode."""
    return {mode: cgraph.function(inputs, outputs, mode=mode, on_unused_input="ignore")
            for mode in MODES}


def numpy_eval(fn: Callable, *args) -> np.ndarray:
    """`fn(*args)` evaluated by numpy, quietly (x / 0, mean of nothing), as an ndarray."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(fn(*args))


def check_calls(fns: dict, exprs: dict[str, Callable], calls: dict[str, list], lib=None,
                tolerance: dict | None = None) -> None:
    """Call every mode with each argument list; output k == numpy on expression k.

    Expressions take the arguments, after `lib` (numpy here, cgraph.tensor when the
    graph was built) if given.
    """
    for call, args in calls.items():
        prefix = () if lib is None else (lib,)
        expected = [numpy_eval(expr, *prefix, *args) for expr in exprs.values()]
        for mode in MODES:
            results = fns[mode](*args)
            for label, out, exp in zip(exprs, results, expected, strict=True):
                assert_same(out, exp, f"{mode} {label} [{call}]", tolerance)


def static(shape: tuple, dtype: str = "float64") -> T.TensorVariable:
    """A free tensor with a static shape."""
    return T.tensor(dtype, shape)


# --------------------------------------------------------------------------- elementwise

#: numpy input ranges (floats, ints) by domain name.
RANGES = {
    "real": ((-9.5, 9.5), (-9, 9)),
    "unit": ((-0.95, 0.95), (0, 0)),
    "above1": ((1.05, 9.5), (1, 9)),
    "positive": ((0.25, 9.5), (1, 9)),
    "base": ((0.5, 3.0), (-3, 3)),
    "exponent": ((-2.0, 2.0), (0, 3)),
    "prob": ((0.02, 0.98), (0, 1)),
    "negative": ((-9.5, -0.05), (-9, -1)),
}


def sample(rng: np.random.Generator, domain: str, shape: tuple, dtype: str) -> np.ndarray:
    """Random values of `dtype` from the named domain."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return rng.random(shape) < 0.5
    if domain == "grid":  # few distinct values, so that comparisons see ties
        values = rng.integers(-2, 3, shape)
        return (values / 2 if kind == "f" else values).astype(dtype)
    if domain == "order":  # whole numbers 0..3 in any dtype (polygamma's n)
        return rng.integers(0, 4, shape).astype(dtype)
    if domain == "divisor":  # negatives and zeros (numpy: int x // 0 == x % 0 == 0)
        values = rng.integers(-3, 4, shape)
        return (values * 0.75 if kind == "f" else values).astype(dtype)
    (flo, fhi), (ilo, ihi) = RANGES[domain]
    if kind == "f":
        return rng.uniform(flo, fhi, shape).astype(dtype)
    return rng.integers(ilo, ihi + 1, shape).astype(dtype)


@dataclass(frozen=True)
class Ref:
    """The numpy twin of one elementwise op, the dtypes to test, one domain per input."""

    fn: Callable
    dtypes: tuple[str, ...]
    domains: tuple[str, ...]


def _sigmoid(x):
    x = np.asarray(x)
    if x.dtype.kind in "biu":  # in the float numpy would promote to: -x would overflow
        x = x.astype(np.result_type(x.dtype, np.float32))
    return 1 / (1 + np.exp(-x))


def _round_half_away(x):
    """C's round(): halves away from zero (numpy has no such ufunc); ints unchanged."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return x.copy()
    return np.copysign(np.floor(np.abs(x).astype(np.float64) + 0.5), x).astype(x.dtype)


def _second(x, y):
    return np.array(np.broadcast_arrays(x, y)[1])


COMPARISONS = {"eq": np.equal, "neq": np.not_equal, "lt": np.less, "le": np.less_equal,
               "gt": np.greater, "ge": np.greater_equal}
UNARY_REAL = {"neg": np.negative, "abs": np.abs, "exp": np.exp, "sin": np.sin, "cos": np.cos,
              "tanh": np.tanh, "sigmoid": _sigmoid, "identity": np.copy}
#: numpy refuses bool for the other ops (or gives int8 where cgraph keeps bool).
BOOL_TOO = {"add", "mul", "abs", "identity", "second", *COMPARISONS}

def _in_float(fn: Callable) -> Callable:
    """A float64 scalar function as numpy would apply it: float32 stays float32."""
    vec = np.vectorize(fn, otypes=[np.float64])

    def apply(x):
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.result_type(x.dtype, np.float16)
        return vec(x.astype(np.float64)).astype(dtype) if x.size else x.astype(dtype)

    return apply


def _digamma(x: float) -> float:
    """psi(x) for x > 0: shifted to x >= 30 (cgraph's C shifts to 10), then 7 terms of
    the asymptotic series (the recurrence also serves negative x)."""
    if x != x or x == -math.inf or (x <= 0 and math.floor(x) == x):
        return math.nan  # NaN, -inf and the poles 0, -1, -2, ...
    if x == math.inf:
        return math.inf
    result = 0.0
    while x < 30.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    coefficients = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12]
    series = sum(c * f ** (k + 1) for k, c in enumerate(coefficients))
    return result + math.log(x) - 0.5 / x - series


def _lgamma(x: float) -> float:
    if math.isinf(x):
        return math.inf
    return math.inf if x <= 0 and math.floor(x) == x else math.lgamma(x)


FLOAT_UNARY = {  # name: (numpy twin, domain)
    "exp2": (np.exp2, "real"), "expm1": (np.expm1, "real"), "log2": (np.log2, "positive"),
    "log10": (np.log10, "positive"), "log1p": (np.log1p, "positive"), "tan": (np.tan, "real"),
    "arcsin": (np.arcsin, "unit"), "arccos": (np.arccos, "unit"),
    "arctan": (np.arctan, "real"), "sinh": (np.sinh, "real"), "cosh": (np.cosh, "real"),
    "arcsinh": (np.arcsinh, "real"), "arccosh": (np.arccosh, "above1"),
    "arctanh": (np.arctanh, "unit"), "erf": (_in_float(math.erf), "real"),
    "erfc": (_in_float(math.erfc), "real"), "gammaln": (_in_float(_lgamma), "positive"),
    "cbrt": (np.cbrt, "real"),
}
BITWISE = {"and_": np.bitwise_and, "or_": np.bitwise_or, "xor": np.bitwise_xor}

REFERENCE: dict[str, Ref] = {
    "add": Ref(np.add, NUMERIC + MORE_INTS + ("bool",), ("real", "real")),  # bool: logical or
    "sub": Ref(np.subtract, NUMERIC + MORE_INTS, ("real", "real")),
    "mul": Ref(np.multiply, NUMERIC + MORE_INTS + ("bool",), ("real", "real")),
    "true_div": Ref(np.true_divide, NUMERIC + MORE_INTS + ("bool",), ("real", "divisor")),
    # bool // bool, % and ** give int8 (numpy's); x // 0 == x % 0 == 0 for integers
    "int_div": Ref(np.floor_divide, NUMERIC + MORE_INTS + ("bool",), ("real", "divisor")),
    "mod": Ref(np.mod, NUMERIC + MORE_INTS + ("bool",), ("real", "divisor")),
    "pow": Ref(np.power, NUMERIC + MORE_INTS + ("bool",), ("base", "exponent")),
    "sign": Ref(np.sign, NUMERIC + MORE_INTS, ("grid",)),
    "sqr": Ref(np.square, NUMERIC + MORE_INTS + ("bool",), ("real",)),
    "deg2rad": Ref(np.deg2rad, NUMERIC, ("real",)),
    "rad2deg": Ref(np.rad2deg, NUMERIC, ("real",)),
    "log": Ref(np.log, NUMERIC, ("positive",)),
    "sqrt": Ref(np.sqrt, NUMERIC, ("positive",)),
    "second": Ref(_second, NUMERIC + ("bool",), ("real", "real")),
    **{name: Ref(fn, NUMERIC + MORE_INTS + ("bool",) * (name in BOOL_TOO), ("real",))
       for name, fn in UNARY_REAL.items()},
    **{name: Ref(fn, NUMERIC + MORE_INTS + ("bool",), ("grid", "grid"))
       for name, fn in COMPARISONS.items()},
    **{name: Ref(fn, NUMERIC, (domain,)) for name, (fn, domain) in FLOAT_UNARY.items()},
    "psi": Ref(_in_float(_digamma), FLOATS, ("positive",)),
    "reciprocal": Ref(lambda x: np.true_divide(1, x), FLOATS, ("positive",)),
    **{name: Ref(fn, NUMERIC + MORE_INTS, ("real",)) for name, fn in
       {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "round": np.round,
        "round_half_away_from_zero": _round_half_away}.items()},
    "isnan": Ref(np.isnan, NUMERIC, ("real",)),
    "isinf": Ref(np.isinf, NUMERIC, ("real",)),
    "logical_not": Ref(np.logical_not, NUMERIC + ("bool",), ("grid",)),
    "invert": Ref(np.invert, INTS + MORE_INTS + ("bool",), ("real",)),
    "maximum": Ref(np.maximum, NUMERIC + MORE_INTS + ("bool",), ("grid", "grid")),
    "minimum": Ref(np.minimum, NUMERIC + MORE_INTS + ("bool",), ("grid", "grid")),
    "arctan2": Ref(np.arctan2, NUMERIC, ("real", "real")),
    **{name: Ref(fn, INTS + MORE_INTS + ("bool",), ("grid", "grid"))
       for name, fn in BITWISE.items()},
    "switch": Ref(lambda c, a, b: np.where(c, a, b), NUMERIC + MORE_INTS,
                  ("grid", "real", "real")),
    "clip": Ref(lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), NUMERIC + MORE_INTS,
                ("real", "grid", "positive")),
    # cgraph.tensor.special's rows: scipy's functions (tests/tensor/special_twins.py)
    **{name: Ref(fn, FLOATS, domains) for name, (fn, domains) in SPECIAL_TWINS.items()},
}


def reference(name: str) -> Ref:
    """REFERENCE[name]; an op of the table without one fails naming the missing step."""
    try:
        return REFERENCE[name]
    except KeyError:
        raise AssertionError(
            f"elementwise op {name!r} has no test reference: add its numpy twin, dtypes and "
            "input domains to REFERENCE in tests/tensor/test_ops.py (CONTRIBUTING.md, 'Adding an "
            "elementwise op', step 2)"
        ) from None


def expected_dtype(name: str, in_dtypes: list[str], numpy_dtype: np.dtype) -> np.dtype:
    """numpy's result dtype, with cgraph's two documented departures."""
    if name == "true_div" and all(np.dtype(d).kind in "biu" for d in in_dtypes):
        return np.dtype(cgraph.config.floatX)  # Theano: int / int gives floatX
    if numpy_dtype == np.float16:
        return np.dtype("float32")  # no float16 in cgraph: small ints go to float32
    return numpy_dtype


def numpy_reference(name: str, args: list[np.ndarray]) -> np.ndarray:
    """REFERENCE[name] on `args`, in the dtype cgraph is expected to return."""
    fn = reference(name).fn
    out = numpy_eval(fn, *args)
    dtype = expected_dtype(name, [a.dtype.name for a in args], out.dtype)
    if dtype != out.dtype:  # evaluate in the wider float, not in float16
        out = numpy_eval(fn, *[a.astype(dtype) for a in args]).astype(dtype)
    return out


@dataclass(frozen=True)
class Layout:
    """An expression of an op's inputs x (and y) of the given ranks."""

    label: str
    ranks: tuple[int, ...]
    expr: Callable  # expr(f, x[, y]) for f the op or its numpy twin
    every_dtype: bool = False  # checked for every dtype, not only FULL_LAYOUT_DTYPES


BINARY_LAYOUTS = (
    Layout("x op y", (2, 2), lambda f, x, y: f(x, y)),
    Layout("x.T op y.T (strided)", (2, 2), lambda f, x, y: f(x.T, y.T)),
    Layout("matrix op vector", (2, 1), lambda f, x, y: f(x, y)),
    Layout("0-d op matrix", (0, 2), lambda f, x, y: f(x, y)),
    Layout("0-d op 0-d", (0, 0), lambda f, x, y: f(x, y), every_dtype=True),
    Layout("vector op vector", (1, 1), lambda f, x, y: f(x, y), every_dtype=True),
    Layout("x[:, None] op y[None, :] (broadcast)", (1, 1),
           lambda f, x, y: f(x[:, None], y[None, :])),
)
TERNARY_LAYOUTS = (
    Layout("op(x, y, z)", (2, 2, 2), lambda f, x, y, z: f(x, y, z)),
    Layout("op(x.T, y, z) (strided)", (2, 2, 2), lambda f, x, y, z: f(x.T, y.T, z.T)),
    Layout("op(matrix, vector, 0-d)", (2, 1, 0), lambda f, x, y, z: f(x, y, z)),
    Layout("op(0-d, 0-d, 0-d)", (0, 0, 0), lambda f, x, y, z: f(x, y, z), every_dtype=True),
    Layout("op(vector, vector, vector)", (1, 1, 1), lambda f, x, y, z: f(x, y, z),
           every_dtype=True),
    Layout("op(x[:, None], y[None, :], z[:, None]) (broadcast)", (1, 1, 1),
           lambda f, x, y, z: f(x[:, None], y[None, :], z[:, None])),
)
QUATERNARY_LAYOUTS = (
    Layout("op(w, x, y, z)", (2, 2, 2, 2), lambda f, *xs: f(*xs)),
    Layout("op(w.T, x.T, y.T, z.T) (strided)", (2, 2, 2, 2),
           lambda f, *xs: f(*[x.T for x in xs])),
    Layout("op(0-d, 0-d, vector, matrix)", (0, 0, 1, 2), lambda f, *xs: f(*xs)),
    Layout("op(0-d, 0-d, 0-d, 0-d)", (0, 0, 0, 0), lambda f, *xs: f(*xs), every_dtype=True),
    Layout("op(vector, vector, vector, vector)", (1, 1, 1, 1), lambda f, *xs: f(*xs),
           every_dtype=True),
    Layout("op(w[:, None], x[None, :], y[:, None], z[None, :]) (broadcast)", (1, 1, 1, 1),
           lambda f, w, x, y, z: f(w[:, None], x[None, :], y[:, None], z[None, :])),
)
UNARY_LAYOUTS = (
    Layout("op(x)", (2,), lambda f, x: f(x)),
    Layout("op(x.T) (strided)", (2,), lambda f, x: f(x.T)),
    Layout("op(0-d)", (0,), lambda f, x: f(x), every_dtype=True),
    Layout("op(vector)", (1,), lambda f, x: f(x), every_dtype=True),
)
#: The C of a layout does not depend on the dtype (one template), and compiling costs
#: about 0.07 s per 2-d kernel: float64 goes through every layout, other dtypes
#: through the cheap ones (a broadcasting vector pair and 0-d).
FULL_LAYOUT_DTYPES = ("float64",)
#: Argument shapes per call: for input 0 and input 1, by rank (0-d inputs are ()).
#: Operands broadcast where their types say so (Theano's rule: the layouts with None).
CALL_SHAPES = {
    "(3,4) with (4,)": ({2: (3, 4), 1: (4,)}, {2: (3, 4), 1: (4,)}),
    "(2,3) with (3,), noncontig": ({2: (2, 3), 1: (3,)}, {2: (2, 3), 1: (3,)}),
    "(3,2) with (2,), reversed (negative strides)": ({2: (3, 2), 1: (2,)}, {2: (3, 2), 1: (2,)}),
    "zero-size (3,0)": ({2: (3, 0), 1: (0,)}, {2: (3, 0), 1: (0,)}),
    "long rows (SIMD body and tail)": ({2: (5, 207), 1: (207,)}, {2: (5, 207), 1: (207,)}),
}
MIXED_PAIRS = [("int32", "float32"), ("int8", "int64"), ("bool", "int8"), ("uint8", "int8"),
               ("int16", "float32")]


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """A strided view holding the values of `a`: a transposed copy, or every other element."""
    if a.ndim == 0:
        return a
    view = np.ascontiguousarray(a.T).T
    if view.flags.c_contiguous:
        view = np.repeat(a, 2, axis=-1)[..., ::2]
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def reversed_view(a: np.ndarray) -> np.ndarray:
    """A view with negative strides on every axis holding the values of `a`."""
    view = np.flip(np.flip(a).copy())
    assert a.ndim == 0 or all(st < 0 for st, n in zip(view.strides, view.shape) if n > 1)
    return view


def elementwise_cases(name: str) -> list[tuple[str, tuple[str, ...], Layout]]:
    """(label, input dtypes, layout) for every output of the op's test function."""
    ref = reference(name)
    layouts = {1: UNARY_LAYOUTS, 2: BINARY_LAYOUTS, 3: TERNARY_LAYOUTS,
               4: QUATERNARY_LAYOUTS}[len(ref.domains)]
    cases = []
    for dtype in ref.dtypes:
        chosen = [lay for lay in layouts if lay.every_dtype or dtype in FULL_LAYOUT_DTYPES]
        cases += [(f"{dtype} {lay.label}", (dtype,) * len(lay.ranks), lay) for lay in chosen]
    if len(layouts[0].ranks) == 2:
        vectors = next(lay for lay in layouts if lay.ranks == (1, 1))
        cases += [(f"{a} op {b}", (a, b), vectors) for a, b in MIXED_PAIRS
                  if a in ref.dtypes and b in ref.dtypes]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("name", list(T.ELEMENTWISE))
def test_elementwise(name):
    """Every dtype, layout and mixed-dtype pair of one op, in one compiled function."""
    op, ref = T.ELEMENTWISE[name], reference(name)
    assert op.scalar_op.nin == len(ref.domains)
    cases = elementwise_cases(name)
    variables = [[T.tensor(dt, ndim=r) for dt, r in zip(dtypes, lay.ranks, strict=True)]
                 for _, dtypes, lay in cases]
    outputs = [lay.expr(op, *vs) for (_, _, lay), vs in zip(cases, variables, strict=True)]
    fns = compile_modes([v for vs in variables for v in vs], outputs)
    for call, shapes in CALL_SHAPES.items():
        rng = rng_for(name, call)
        args = [[sample(rng, ref.domains[i], shapes[min(i, 1)].get(rank, ()), dtype)
                 for i, (dtype, rank) in enumerate(zip(dtypes, lay.ranks, strict=True))]
                for _, dtypes, lay in cases]
        if "noncontig" in call:
            args = [[noncontiguous(a) for a in case_args] for case_args in args]
        if "negative strides" in call:
            args = [[reversed_view(a) for a in case_args] for case_args in args]
        results = {mode: fns[mode](*[a for case_args in args for a in case_args])
                   for mode in MODES}
        for k, ((label, _, lay), case_args) in enumerate(zip(cases, args, strict=True)):
            expected = lay.expr(lambda *xs: numpy_reference(name, list(xs)), *case_args)
            for mode in MODES:
                assert_same(results[mode][k], expected, f"{mode} {name}: {label} [{call}]")


def all_pairs(values: np.ndarray) -> list[np.ndarray]:
    """Two vectors holding every (a, b) pair of `values`."""
    return [np.repeat(values, len(values)), np.tile(values, len(values))]


def apply_op(name: str, f: Callable, x, y):
    nin = T.ELEMENTWISE[name].scalar_op.nin
    if nin == 4:
        return f(x, y, -y, x)
    return f(x, y, -y) if nin == 3 else f(x, y) if nin == 2 else f(x)


def float_ops() -> list[str]:
    """The table ops that take float64 (not the bitwise ones), for the special values."""
    return [n for n in T.ELEMENTWISE if "float64" in reference(n).dtypes]


@pytest.mark.slow
def test_elementwise_float_special_values():
    # NaN, infinities and signed zeros through every op (what -ffast-math would break).
    names = float_ops()
    args = all_pairs(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5]))
    x, y = T.dvector(), T.dvector()
    fns = compile_modes([x, y], [apply_op(n, T.ELEMENTWISE[n], x, y) for n in names])
    for mode in MODES:
        for name, out in zip(names, fns[mode](*args), strict=True):
            expected = apply_op(name, lambda *xs, n=name: numpy_reference(n, list(xs)), *args)
            label = f"{mode} {name}"
            assert_same(out, expected, label)
            if out.dtype.kind == "f":
                signed = ~np.isnan(expected)
                np.testing.assert_array_equal(np.signbit(out[signed]),
                                              np.signbit(expected[signed]), err_msg=label)


def test_elementwise_integer_extremes():
    # Wrap-around like numpy, min // -1, x // 0 == x % 0 == 0, abs(min) == min.
    names = ["add", "sub", "mul", "int_div", "mod", "neg", "abs", "sign", "lt"]
    variables, outputs, args = [], [], []
    for dtype in ("int8", "int64"):
        info = np.iinfo(dtype)
        values = np.array([info.min, info.min + 1, -2, -1, 0, 1, 2, info.max - 1, info.max],
                          dtype=dtype)
        x, y = T.vector(dtype=dtype), T.vector(dtype=dtype)
        variables += [x, y]
        outputs += [apply_op(n, T.ELEMENTWISE[n], x, y) for n in names]
        args += all_pairs(values)
    fns = compile_modes(variables, outputs)
    labels = [f"{dtype} {n}" for dtype in ("int8", "int64") for n in names]
    expected = [apply_op(n, lambda *xs, n=n: numpy_reference(n, list(xs)), *args[k:k + 2])
                for k in (0, 2) for n in names]
    for mode in MODES:
        for out, exp, label in zip(fns[mode](*args), expected, labels, strict=True):
            assert_same(out, exp, f"{mode} {label}")


def test_int_and_float_operands_meet_in_numpys_common_dtype():
    # int32 with float32 computes in float64, as numpy; C alone would use float, where
    # 2**24 + 1 rounds to 2**24.
    i, f = T.ivector(), T.fvector()
    exprs = {"i > f": lambda i, f: i > f, "i <= f": lambda i, f: i <= f,
             "i + f": lambda i, f: i + f, "f - i": lambda i, f: f - i}
    fns = compile_modes([i, f], [e(i, f) for e in exprs.values()])
    args = [np.array([2**24 + 1, -(2**24) - 1, 3], dtype="int32"),
            np.array([2**24, -(2**24), 3.5], dtype="float32")]
    check_calls(fns, exprs, {"near 2**24": args})


# Expressions of x3 (2,1,4), x4 (3,2,1,4) and m (3,1), for numpy and symbolic alike.
HIGH_RANK_EXPRS = {
    "x3 * m -> (2,3,4)": lambda x3, x4, m: x3 * m,
    "x4 - x3 -> (3,2,1,4)": lambda x3, x4, m: x4 - x3,
    "x4.transpose(0, 2, 1, 3) * 2.0 (strided)": lambda x3, x4, m: x4.transpose(0, 2, 1, 3) * 2.0,
    "x4.T / m.T": lambda x3, x4, m: x4.T / m.T,
    "x4.sum(axis=(1, 3))": lambda x3, x4, m: x4.sum(axis=(1, 3)),
    "(x3 * m).mean(axis=0)": lambda x3, x4, m: (x3 * m).mean(axis=0),
}


@pytest.mark.slow
def test_elementwise_and_reduce_of_higher_rank():
    # the length-1 axes of the arguments below are typed so (Theano's rule: only they
    # broadcast)
    variables = [T.tensor("float64", shape=(None, 1, None)),
                 T.tensor("float64", shape=(None, None, 1, None)),
                 T.tensor("float64", shape=(None, 1))]
    fns = compile_modes(variables, [e(*variables) for e in HIGH_RANK_EXPRS.values()])
    rng = rng_for("high rank")
    args = [rng.normal(size=shape) for shape in [(2, 1, 4), (3, 2, 1, 4), (3, 1)]]
    check_calls(fns, HIGH_RANK_EXPRS, {"contiguous": args,
                                       "noncontig": [noncontiguous(a) for a in args]})


# Expressions of tensors with static shapes: x (2,3,4) float64, m (3,4) float64,
# c (3,1) float64, r (1,4) int32, v (4,) float32, s () int8.
STATIC_EXPRS = {
    "mean(x)": lambda lib, x, m, c, r, v, s: lib.mean(x),
    "mean(x, axis=(0, 2), keepdims)": lambda lib, x, m, c, r, v, s: lib.mean(x, axis=(0, 2),
                                                                             keepdims=True),
    "sum(x, axis=1)": lambda lib, x, m, c, r, v, s: lib.sum(x, axis=1),
    "x * m": lambda lib, x, m, c, r, v, s: x * m,
    "c * r": lambda lib, x, m, c, r, v, s: c * r,
    "s + v": lambda lib, x, m, c, r, v, s: s + v,
    "mean(s)": lambda lib, x, m, c, r, v, s: lib.mean(s),
    "dot(m, v)": lambda lib, x, m, c, r, v, s: lib.dot(m, v),
    "dot(m.T, c)": lambda lib, x, m, c, r, v, s: lib.dot(m.T, c),
    "concatenate([m, c], axis=1)": lambda lib, x, m, c, r, v, s: lib.concatenate([m, c], axis=1),
    "sum(c, axis=1)": lambda lib, x, m, c, r, v, s: lib.sum(c, axis=1),
}


@pytest.mark.slow
def test_static_shapes():
    # Static shapes take other paths: constant counts in mean, single-element operands.
    shapes = [(2, 3, 4), (3, 4), (3, 1), (1, 4), (4,), ()]
    dtypes = ["float64", "float64", "float64", "int32", "float32", "int8"]
    variables = [T.tensor(dt, shape) for dt, shape in zip(dtypes, shapes, strict=True)]
    fns = compile_modes(variables, [e(T, *variables) for e in STATIC_EXPRS.values()])
    rng = rng_for("static")
    args = [sample(rng, "real", shape, dt) for dt, shape in zip(dtypes, shapes, strict=True)]
    check_calls(fns, STATIC_EXPRS, {"static shapes": args}, lib=np,
                tolerance=dict(rtol=1e-6, atol=1e-6))


# --------------------------------------------------------------------------- Python numbers

# Expressions of f (float32 vector), i (int32 vector), b (int8 vector), d (float64 vector),
# l (int64 vector); numpy 2 gives Python numbers the same weak typing.
SCALAR_EXPRS = {
    "f * 0.1": lambda f, i, b, d, l: f * 0.1,
    "f + 2": lambda f, i, b, d, l: f + 2,
    "2 - f": lambda f, i, b, d, l: 2 - f,
    "f ** 2": lambda f, i, b, d, l: f**2,
    "i * 2": lambda f, i, b, d, l: i * 2,
    "i * 0.5": lambda f, i, b, d, l: i * 0.5,
    "b + 1": lambda f, i, b, d, l: b + 1,
    "b < 1": lambda f, i, b, d, l: b < 1,
    "i / i": lambda f, i, b, d, l: i / i,
    "1 / i": lambda f, i, b, d, l: 1 / i,
    "l // 3": lambda f, i, b, d, l: l // 3,
    "-7 // l": lambda f, i, b, d, l: -7 // l,
    "l % 3": lambda f, i, b, d, l: l % 3,
    "7 % l": lambda f, i, b, d, l: 7 % l,
    "d // -0.75": lambda f, i, b, d, l: d // -0.75,
    "d % -0.75": lambda f, i, b, d, l: d % -0.75,
    "-d % 0.75": lambda f, i, b, d, l: -d % 0.75,
}


def test_python_numbers_keep_the_tensor_dtype():
    dtypes = ("float32", "int32", "int8", "float64", "int64")
    variables = [T.vector(dtype=dt) for dt in dtypes]
    fns = compile_modes(variables, [e(*variables) for e in SCALAR_EXPRS.values()])
    args = [np.array([-2.5, -1.2, 0.3, 1.7, 4.0], dtype="float32"),
            np.array([-3, -1, 1, 2, 5], dtype="int32"),
            np.array([-7, -1, 0, 2, 9], dtype="int8"),
            np.array([-2.5, -1.2, 0.0, 1.7, 4.0]),
            np.array([-7, -5, -1, 4, 8], dtype="int64")]
    check_calls(fns, SCALAR_EXPRS, {"vectors of 5": args})


def test_symbolic_dtypes_follow_numpy():
    f, i, b = T.fvector(), T.ivector(), T.bvector()
    assert (f * 0.1).dtype == "float32"
    assert (i * 2).dtype == "int32"
    assert (b + 1).dtype == "int8"
    assert (i * 0.5).dtype == "float64"
    assert (f * np.float64(0.1)).dtype == "float64"  # a numpy scalar keeps its dtype
    assert (i / i).dtype == cgraph.config.floatX


def test_int_true_division_gives_floatx(monkeypatch):
    monkeypatch.setattr(cgraph.config, "floatX", "float32")
    i, l = T.ivector(), T.lvector()
    outputs = [i / i, l / 2, T.mean(i)]
    assert [o.dtype for o in outputs] == ["float32"] * 3
    fns = compile_modes([i, l], outputs)
    a, c = np.array([1, -7, 3], dtype="int32"), np.array([3, 4, -5])
    expected = [(a / a).astype("float32"), (c / 2).astype("float32"),
                np.asarray(a.mean(), dtype="float32")]
    for mode in MODES:
        for out, exp in zip(fns[mode](a, c), expected, strict=True):
            assert_same(out, exp, mode)


# --------------------------------------------------------------------------- reductions

# Expressions of lib (numpy or cgraph.tensor) and s (0-d), v (1-d), x (3-d).
REDUCE_EXPRS = {
    "sum(s)": lambda lib, s, v, x: lib.sum(s),
    "sum(s, keepdims)": lambda lib, s, v, x: lib.sum(s, keepdims=True),
    "sum(s, axis=())": lambda lib, s, v, x: lib.sum(s, axis=()),
    "mean(s)": lambda lib, s, v, x: lib.mean(s),
    "sum(v)": lambda lib, s, v, x: lib.sum(v),
    "sum(v, axis=0)": lambda lib, s, v, x: lib.sum(v, axis=0),
    "sum(v, axis=-1, keepdims)": lambda lib, s, v, x: lib.sum(v, axis=-1, keepdims=True),
    "mean(v)": lambda lib, s, v, x: lib.mean(v),
    "v.mean(axis=0, keepdims)": lambda lib, s, v, x: v.mean(axis=0, keepdims=True),
    "sum(x)": lambda lib, s, v, x: lib.sum(x),
    "sum(x, axis=1)": lambda lib, s, v, x: lib.sum(x, axis=1),
    "sum(x, axis=-1)": lambda lib, s, v, x: lib.sum(x, axis=-1),
    "sum(x, axis=(0, 2))": lambda lib, s, v, x: lib.sum(x, axis=(0, 2)),
    "sum(x, axis=(2, -3), keepdims)": lambda lib, s, v, x: lib.sum(x, axis=(2, -3),
                                                                   keepdims=True),
    "sum(x, keepdims)": lambda lib, s, v, x: lib.sum(x, keepdims=True),
    "sum(x, axis=())": lambda lib, s, v, x: lib.sum(x, axis=()),
    "x.sum(axis=0)": lambda lib, s, v, x: x.sum(axis=0),
    "sum(x.transpose(2, 0, 1), axis=1) (strided)":
        lambda lib, s, v, x: lib.sum(x.transpose(2, 0, 1), axis=1),
    "mean(x)": lambda lib, s, v, x: lib.mean(x),
    "mean(x, axis=1)": lambda lib, s, v, x: lib.mean(x, axis=1),
    "mean(x, axis=(0, -1), keepdims)": lambda lib, s, v, x: lib.mean(x, axis=(0, -1),
                                                                     keepdims=True),
    "x.mean(axis=-2)": lambda lib, s, v, x: x.mean(axis=-2),
}


#: What other dtypes than float64 check: the kernel is one template for every dtype.
DTYPE_REDUCE_EXPRS = ("sum(s)", "mean(s)", "sum(v)", "mean(v)", "sum(x, axis=(0, 2))",
                      "mean(x, axis=1)")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "bool"])
def test_sum_and_mean(dtype):
    # sum of small ints gives int64 and mean of ints gives floatX (float64), as numpy.
    exprs = REDUCE_EXPRS
    if dtype != "float64":
        exprs = {label: REDUCE_EXPRS[label] for label in DTYPE_REDUCE_EXPRS}
    variables = [T.tensor(dtype, ndim=n) for n in (0, 1, 3)]
    fns = compile_modes(variables, [e(T, *variables) for e in exprs.values()])
    rng = rng_for("reduce", dtype)
    calls = {
        "(), (5,), (2,3,4)": [sample(rng, "real", shape, dtype) for shape in [(), (5,), (2, 3, 4)]],
        "noncontig": [noncontiguous(sample(rng, "real", shape, dtype))
                      for shape in [(), (6,), (3, 2, 4)]],
        "zero-size": [sample(rng, "real", shape, dtype) for shape in [(), (0,), (2, 0, 4)]],
    }
    check_calls(fns, exprs, calls, lib=np, tolerance=dict(rtol=1e-5, atol=1e-5)
                if dtype == "float32" else None)


def test_sum_axis_errors():
    x = T.tensor3()
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        T.sum(x, axis=3)
    with pytest.raises(ValueError, match="axis -4 is out of range"):
        x.mean(axis=-4)
    with pytest.raises(ValueError, match="repeated axis"):
        T.sum(x, axis=(0, -3))


# --------------------------------------------------------------------------- dot

# Expressions of dot (np.dot or T.dot), A (m,k), B (k,n), u (k,), w (m,), s (0-d).
DOT_EXPRS = {
    "matrix . matrix": lambda dot, A, B, u, w, s: dot(A, B),
    "matrix . vector": lambda dot, A, B, u, w, s: dot(A, u),
    "vector . matrix": lambda dot, A, B, u, w, s: dot(w, A),
    "vector . vector": lambda dot, A, B, u, w, s: dot(u, u),
    "B.T . A.T": lambda dot, A, B, u, w, s: dot(B.T, A.T),
    "A.T . A": lambda dot, A, B, u, w, s: dot(A.T, A),
    "A.T . vector": lambda dot, A, B, u, w, s: dot(A.T, w),
    "vector . A.T": lambda dot, A, B, u, w, s: dot(u, A.T),
    "A @ B": lambda dot, A, B, u, w, s: A @ B,
    "0-d . matrix": lambda dot, A, B, u, w, s: dot(s, A),
}
DOT_TOLERANCE = {"float32": dict(rtol=1e-5, atol=1e-5)}


def dot_args(rng, dtype: str, m: int, k: int, n: int) -> list[np.ndarray]:
    shapes = [(m, k), (k, n), (k,), (m,), ()]
    return [sample(rng, "real", shape, dtype) for shape in shapes]


#: Other dtypes than float64 check the four rank combinations only.
DTYPE_DOT_EXPRS = ("matrix . matrix", "matrix . vector", "vector . matrix", "vector . vector")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
def test_dot(dtype):
    exprs = DOT_EXPRS
    if dtype != "float64":
        exprs = {label: DOT_EXPRS[label] for label in DTYPE_DOT_EXPRS}
    variables = [T.tensor(dtype, ndim=n) for n in (2, 2, 1, 1, 0)]
    fns = compile_modes(variables, [e(T.dot, *variables) for e in exprs.values()])
    rng = rng_for("dot", dtype)
    calls = {
        "(2,3) (3,4)": dot_args(rng, dtype, 2, 3, 4),
        "noncontig (3,5) (5,2)": [noncontiguous(a) for a in dot_args(rng, dtype, 3, 5, 2)],
        "zero inner dim (2,0) (0,4)": dot_args(rng, dtype, 2, 0, 4),
        "zero-size (0,3) (3,1)": dot_args(rng, dtype, 0, 3, 1),
    }
    check_calls(fns, exprs, calls, lib=np.dot, tolerance=DOT_TOLERANCE.get(dtype))


def test_dot_mixed_dtypes_upcast():
    A, B, v = T.imatrix(), T.fmatrix(), T.bvector()
    fns = compile_modes([A, B, v], [T.dot(A, B), T.dot(v, A.T), T.dot(B, v.astype("int64"))])
    rng = rng_for("dot mixed")
    a, b = sample(rng, "real", (2, 3), "int32"), sample(rng, "real", (3, 3), "float32")
    c = sample(rng, "real", (3,), "int8")
    expected = [np.dot(a, b), np.dot(c, a.T), np.dot(b, c.astype("int64"))]
    assert [e.dtype.name for e in expected] == ["float64", "int32", "float64"]
    for mode in MODES:
        for out, exp in zip(fns[mode](a, b, c), expected, strict=True):
            assert_same(out, exp, mode)


@pytest.mark.parametrize("shapes", [((2, 3), (4, 2)), ((2, 3), (4,)), ((3,), (4,)),
                                    ((3,), (4, 2))], ids=str)
def test_dot_static_shape_mismatch_raises_when_built(shapes):
    a, b = shapes
    pattern = r"\[{}\].*\[{}\]".format(*[",".join(map(str, s)) for s in shapes])
    with pytest.raises(ValueError, match=pattern):
        T.dot(static(a), static(b))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((2, 3), (4, 2)), ((2, 3), (4,)), ((3,), (4,)),
                                    ((3,), (4, 2))], ids=str)
def test_dot_shape_mismatch_raises_when_called(shapes, mode):
    a, b = [T.tensor("float64", ndim=len(s)) for s in shapes]
    f = cgraph.function([a, b], T.dot(a, b), mode=mode)
    with pytest.raises(ValueError, match=r"\({}\).*\({}\)".format(
            *[", ".join(map(str, s)) + ("," if len(s) == 1 else "") for s in shapes])):
        f(np.ones(shapes[0]), np.ones(shapes[1]))


def test_dot_op_rejects_3d():
    # T.dot takes any ranks (tests/tensor/test_blas.py); its 2-D core op does not.
    with pytest.raises(TypeError, match="1-d or 2-d"):
        T.blas.Dot()(T.tensor3(), T.matrix())


# --------------------------------------------------------------------------- concatenate

BIAS = np.array([1], dtype=cgraph.config.floatX)  # as in the tutorial's layer()

# Expressions of cat (np.concatenate or T.concatenate), a, b (float64 (n,3)),
# i (int32 (n,3)), f (float32 (n,3)), c (int8 (n,3)), x (float64 (k,)).
CONCAT_EXPRS = {
    "axis 0": lambda cat, a, b, i, f, c, x: cat([a, b]),
    "axis 1": lambda cat, a, b, i, f, c, x: cat([a, b], axis=1),
    "axis -1, three parts": lambda cat, a, b, i, f, c, x: cat([b, a, b], axis=-1),
    "transposed parts (strided)": lambda cat, a, b, i, f, c, x: cat([a.T, b.T], axis=1),
    "int32 + float32 -> float64": lambda cat, a, b, i, f, c, x: cat([i, f]),
    "int8 + int32 -> int32": lambda cat, a, b, i, f, c, x: cat([c, i], axis=1),
    "float32 + int8 -> float32": lambda cat, a, b, i, f, c, x: cat([f, c]),
    "vector + numpy constant (tutorial bias)": lambda cat, a, b, i, f, c, x: cat([x, BIAS]),
}


def test_concatenate():
    dtypes = ["float64", "float64", "int32", "float32", "int8", "float64"]
    variables = [T.tensor(dt, ndim=1 if k == 5 else 2) for k, dt in enumerate(dtypes)]
    fns = compile_modes(variables, [e(T.concatenate, *variables) for e in CONCAT_EXPRS.values()])
    rng = rng_for("concatenate")

    def args(n, k):
        return [sample(rng, "real", (k,) if j == 5 else (n, 3), dt) for j, dt in enumerate(dtypes)]

    calls = {"(2,3) parts": args(2, 3), "noncontig": [noncontiguous(a) for a in args(3, 2)],
             "zero-size parts (0,3) and (0,)": args(0, 0)}
    check_calls(fns, CONCAT_EXPRS, calls, lib=np.concatenate)


def test_join_and_tutorial_bias():
    x = T.dvector()
    out = T.join(0, x, BIAS)
    assert out.dtype == "float64"
    for mode in MODES:
        f = cgraph.function([x], out, mode=mode)
        assert_same(f([0.5, 2.0]), np.array([0.5, 2.0, 1.0]), mode)


@pytest.mark.parametrize("mode", MODES)
def test_concatenate_shape_mismatch_raises_when_called(mode):
    a, b = T.dmatrix(), T.dmatrix()
    f = cgraph.function([a, b], T.concatenate([a, b], axis=0), mode=mode)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        f(np.ones((2, 3)), np.ones((2, 4)))


def test_concatenate_errors_when_built():
    with pytest.raises(ValueError, match="differ on axis 1"):
        T.concatenate([static((2, 3)), static((2, 4))])
    with pytest.raises(ValueError, match="zero-dimensional"):
        T.concatenate([T.dscalar(), T.dscalar()])
    with pytest.raises(ValueError, match="axis 2 out of range"):
        T.concatenate([T.dmatrix(), T.dmatrix()], axis=2)
    with pytest.raises(ValueError, match="at least one"):
        T.concatenate([])


# --------------------------------------------------------------------------- shape ops

# (symbolic expression, numpy expression) of x (3-d), m (2-d), r (row: static (1, ?)).
SHAPE_EXPRS = {
    "x.T": (lambda x, m, r: x.T, lambda x, m, r: x.T),
    "x.transpose(1, 2, 0)": (lambda x, m, r: x.transpose(1, 2, 0),
                             lambda x, m, r: x.transpose(1, 2, 0)),
    "x.transpose((2, 0, 1))": (lambda x, m, r: x.transpose((2, 0, 1)),
                               lambda x, m, r: x.transpose((2, 0, 1))),
    "transpose(x, (0, -1, 1))": (lambda x, m, r: T.transpose(x, (0, -1, 1)),
                                 lambda x, m, r: np.transpose(x, (0, -1, 1))),
    "m.dimshuffle('x', 0, 'x', 1)": (lambda x, m, r: m.dimshuffle("x", 0, "x", 1),
                                     lambda x, m, r: m[None, :, None, :]),
    "m.dimshuffle(1, 'x', 0)": (lambda x, m, r: m.dimshuffle(1, "x", 0),
                                lambda x, m, r: m.T[:, None, :]),
    "dimshuffle(m, [1, 0])": (lambda x, m, r: T.dimshuffle(m, [1, 0]), lambda x, m, r: m.T),
    "r.dimshuffle(1) (drops a length-1 axis)": (lambda x, m, r: r.dimshuffle(1),
                                                lambda x, m, r: r[0]),
    "x.T.dimshuffle(0, 'x', 2, 1) (view of a view)": (
        lambda x, m, r: x.T.dimshuffle(0, "x", 2, 1),
        lambda x, m, r: x.T[:, None].transpose(0, 1, 3, 2)),
    "m.T * r.T (views in arithmetic)": (lambda x, m, r: m.T * r.T, lambda x, m, r: m.T * r.T),
}


def test_transpose_and_dimshuffle():
    # Views: the dtype does not matter (the output copy is an elementwise identity).
    x, m, r = T.dtensor3(), T.dmatrix(), T.drow()
    fns = compile_modes([x, m, r], [sym(x, m, r) for sym, _ in SHAPE_EXPRS.values()])
    rng = rng_for("shape")

    def args(shape):
        return [sample(rng, "real", s, "float64") for s in (shape, shape[1:], (1, shape[-1]))]

    calls = {"(2,3,4)": args((2, 3, 4)), "noncontig": [noncontiguous(a) for a in args((3, 2, 4))],
             "zero-size": args((2, 0, 3))}
    check_calls(fns, {k: ref for k, (_, ref) in SHAPE_EXPRS.items()}, calls)


def test_shape_op_errors():
    with pytest.raises(ValueError, match="not known to have length 1"):
        T.dmatrix().dimshuffle(1)
    with pytest.raises(ValueError, match="invalid dimshuffle pattern"):
        T.dmatrix().dimshuffle(0, 0)
    with pytest.raises(ValueError, match="not a permutation"):
        T.tensor3().transpose(0, 1)


# --------------------------------------------------------------------------- broadcasting


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (3, 2)), ((2, 1, 3), (4, 2))],
                         ids=str)
def test_broadcast_mismatch_raises_when_called(shapes, mode):
    a, b = [T.tensor("float64", ndim=len(s)) for s in shapes]
    f = cgraph.function([a, b], a * b, mode=mode)
    shown = [re_shape(s) for s in shapes]
    with pytest.raises(ValueError, match=rf"{shown[0]}.*{shown[1]}"):
        f(np.ones(shapes[0]), np.ones(shapes[1]))


def re_shape(shape: tuple) -> str:
    """A regex matching `shape` as Python prints it, possibly padded with leading 1s."""
    text = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    return r"\((1, )*" + text + r"\)"


def test_static_broadcast_mismatch_raises_when_built():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        static((3,)) + static((4,))


def test_row_input_rejects_a_longer_first_axis():
    r = T.drow()
    f = cgraph.function([r], r * 2)
    with pytest.raises(ValueError, match=r"axis 0"):
        f(np.ones((2, 3)))


# --------------------------------------------------------------------------- cast

CAST_EXPRS = {
    "float64 -> int32 (truncates)": lambda d, b: d.astype("int32"),
    "float64 -> int8": lambda d, b: d.astype("int8"),
    "float64 -> float32": lambda d, b: d.astype("float32"),
    "float64 -> bool": lambda d, b: d.astype("bool"),
    "int8 -> float64": lambda d, b: b.astype("float64"),
    "int8 -> int64": lambda d, b: b.astype("int64"),
    "int8 -> bool": lambda d, b: b.astype("bool"),
}


def test_cast():
    d, b = T.dvector(), T.bvector()
    fns = compile_modes([d, b], [e(d, b) for e in CAST_EXPRS.values()])
    # No NaN or out-of-range floats for int targets: C leaves those undefined.
    args = [np.array([-2.7, -0.5, 0.0, 0.4, 3.9, 100.2, -0.0]),
            np.array([-128, -1, 0, 1, 2, 7, 127], dtype="int8")]
    check_calls(fns, CAST_EXPRS, {"finite values": args})
