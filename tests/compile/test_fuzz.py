"""Differential fuzzing: random graphs over the op library, compiled to C, against
the numpy reference (mode "PY"); and their C gradients against central differences.

Hypothesis grows each graph one op at a time from random leaves, tracking the
concrete shape of every node so that each op it picks is valid: elementwise math
with broadcasting, reductions, dot, basic indexing (ints, slices with any step),
integer-array indexing and take, inc_subtensor / set_subtensor, reshape,
dimshuffle / transpose, flatten, concatenate, conv2d and pool_2d (of the node reshaped
to a batch of images: every border mode, stride, dilation, group count and pooling
mode); leaves are float64, float32,
int64, int32 or bool, of rank 0-3, zero-size axes included.

The example count is bounded for CI (about 20 s); a longer search:

    CGRAPH_FUZZ_EXAMPLES=2000 python -m pytest tests/compile/test_fuzz.py

`CGRAPH_FUZZ_SEED=<n>` explores other examples than the CI's fixed ones
(the CI run is derandomized, so it is the same on every machine).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, seed, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad

# Many compiles per run: the slow set (python -m pytest -q -m slow) runs it.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CGRAPH_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("CGRAPH_FUZZ_SEED", "0"))
DTYPES = ["float64", "float64", "float64", "float32", "int64", "int32", "bool"]
MAX_SIZE = 48  # elements per node: keeps the central differences cheap
RTOL = {"float64": 1e-9, "float32": 2e-5}


@dataclass
class Node:
    """A graph variable with its concrete shape at call time.

    `smooth` is True when the node is a differentiable function of the float64
    leaves (central differences then match its gradient).
    """

    var: T.TensorVariable
    shape: tuple[int, ...]
    smooth: bool = True

    @property
    def dtype(self) -> str:
        return self.var.type.dtype

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith("float")


@dataclass
class Builder:
    """Draws leaves and ops; keeps the inputs and their values."""

    draw: Callable
    rng: np.random.Generator
    inputs: list = field(default_factory=list)
    values: list = field(default_factory=list)
    pool: list = field(default_factory=list)
    ops: list = field(default_factory=list)

    def leaf(self, shape: tuple[int, ...], dtype: str | None = None) -> Node:
        dtype = dtype or self.draw(st.sampled_from(DTYPES))
        # size-1 axes are declared broadcastable, as numpy would broadcast them
        static = tuple(1 if n == 1 else None for n in shape)
        var = T.tensor(dtype, shape=static, name=f"x{len(self.inputs)}")
        if dtype.startswith("float"):
            value = self.rng.uniform(-1.5, 1.5, size=shape).astype(dtype)
        elif dtype == "bool":
            value = self.rng.integers(0, 2, size=shape).astype(bool)
        else:
            value = self.rng.integers(-5, 6, size=shape).astype(dtype)
        self.inputs.append(var)
        self.values.append(value)
        node = Node(var, shape, smooth=dtype != "float32")
        self.pool.append(node)
        return node

    def shape(self, ndim: int | None = None) -> tuple[int, ...]:
        ndim = self.draw(st.integers(0, 3)) if ndim is None else ndim
        return tuple(self.draw(st.sampled_from([0, 1, 1, 2, 3, 3, 4])) for _ in range(ndim))

    def partner(self, x: Node) -> Node:
        """An operand that broadcasts with `x` under Theano's rule: a node already
        built, or a new leaf."""
        shape = x.shape
        usable = [n for n in self.pool if _broadcast(n, x) is not None
                  and math.prod(_broadcast(n, x)) <= MAX_SIZE]
        if usable and self.draw(st.booleans()):
            return self.draw(st.sampled_from(usable))
        keep = self.draw(st.integers(0, len(shape)))
        tail = shape[len(shape) - keep:]
        return self.leaf(tuple(n if self.draw(st.booleans()) else 1 for n in tail))

    def pick(self, name: str, node: Node) -> Node:
        self.ops.append(name)
        event(f"op {name}")  # --hypothesis-show-statistics counts them
        return node


def _broadcast(a: Node, b: Node) -> tuple | None:
    """The shape of an elementwise result of `a` and `b` under Theano's rule (only an
    axis whose static length is 1 broadcasts), or None when the call would fail."""
    ndim = max(len(a.shape), len(b.shape))
    out = []
    for axis in range(-ndim, 0):
        lengths = {n.shape[axis] for n in (a, b)
                   if axis >= -len(n.shape) and n.var.type.shape[axis] != 1}
        if len(lengths) > 1:
            return None
        out.append(lengths.pop() if lengths else 1)
    return tuple(out)


def _smooth(*nodes: Node, result: T.TensorVariable) -> bool:
    return all(n.smooth for n in nodes) and result.type.dtype != "float32"


# ---------------------------------------------------------------- the op table
# Each entry: (applies to this node?, build the new node). Builders draw what they
# need (axes, indices, partners) through `b`.

FLOAT_UNARY = {  # each keeps values where the op is smooth and finite
    "exp": lambda x: T.exp(T.tanh(x)),
    "sin": T.sin,
    "tanh": T.tanh,
    "sigmoid": T.nnet.sigmoid,
    "sqrt": lambda x: T.sqrt(x * x + 1.0),
    "log": lambda x: T.log(x * x + 0.5),
    "sqr": T.sqr,
    "scale": lambda x: x * 0.5 - 0.25,
}
ANY_UNARY = {"neg": lambda x: -x, "abs": abs, "sqr_any": lambda x: x * x}
KINKED = {"abs", "maximum", "minimum", "max"}


def unary(b: Builder, x: Node) -> Node:
    table = FLOAT_UNARY if x.is_float else {}
    table = {**table, **ANY_UNARY} if x.dtype != "bool" else {"not": T.invert}
    name = b.draw(st.sampled_from(sorted(table)))
    out = table[name](x.var)
    return b.pick(name, Node(out, x.shape, _smooth(x, result=out) and name not in KINKED))


def binary(b: Builder, x: Node) -> Node:
    y = b.partner(x)
    if x.dtype == "bool" and y.dtype == "bool":
        names = ["and", "or"]
    else:
        names = ["add", "sub", "mul", "maximum", "minimum"]
        if x.is_float or y.is_float:
            names.append("div")
    name = b.draw(st.sampled_from(names))
    xv, yv = x.var, y.var
    out = {
        "add": lambda: xv + yv, "sub": lambda: xv - yv, "mul": lambda: xv * yv,
        "div": lambda: xv / (yv * yv + 1.0),
        "maximum": lambda: T.maximum(xv, yv), "minimum": lambda: T.minimum(xv, yv),
        "and": lambda: xv & yv, "or": lambda: xv | yv,
    }[name]()
    shape = _broadcast(x, y)
    return b.pick(name, Node(out, shape, _smooth(x, y, result=out) and name not in KINKED))


def reduce(b: Builder, x: Node) -> Node:
    axes = [a for a in range(len(x.shape)) if b.draw(st.booleans())]
    axis = None if not axes or len(axes) == len(x.shape) else tuple(axes)
    reduced = range(len(x.shape)) if axis is None else axis
    empty = any(x.shape[a] == 0 for a in reduced)
    names = ["sum", "sum"] + (["mean", "prod"] if x.dtype != "bool" else [])
    if not empty:  # max of nothing is an error in numpy
        names.append("max")
    name = b.draw(st.sampled_from(names))
    keepdims = b.draw(st.booleans())
    fn = {"sum": T.sum, "mean": T.mean, "prod": T.prod, "max": T.max}[name]
    out = fn(x.var, axis=axis, keepdims=keepdims)
    shape = tuple(1 if a in reduced else n for a, n in enumerate(x.shape) if keepdims
                  or a not in reduced)
    smooth = _smooth(x, result=out) and name not in KINKED and not (empty and name == "mean")
    return b.pick(name, Node(out, shape, smooth))


def dot(b: Builder, x: Node) -> Node:
    k = x.shape[-1]
    ndim = b.draw(st.integers(1, 2))
    other = (k,) if ndim == 1 else (k, b.draw(st.integers(0, 4)))
    y = b.leaf(other, b.draw(st.sampled_from(["float64", "float64", "float32", "int64"])))
    out = T.dot(x.var, y.var)
    shape = x.shape[:-1] + other[1:]
    return b.pick("dot", Node(out, shape, _smooth(x, y, result=out)))


def _basic_key(b: Builder, shape: tuple[int, ...]) -> tuple:
    key = []
    for n in shape[:b.draw(st.integers(1, len(shape)))]:
        if n > 0 and b.draw(st.integers(0, 2)) == 0:
            key.append(b.draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 1, n + 1)
            step = b.draw(st.sampled_from([None, 1, 2, -1, -2, 3]))
            key.append(slice(b.draw(bound), b.draw(bound), step))
    return tuple(key)


def subtensor(b: Builder, x: Node) -> Node:
    key = _basic_key(b, x.shape)
    shape = np.empty(x.shape)[key].shape
    return b.pick("subtensor", Node(x.var[key], shape, x.smooth))


def _index_array(b: Builder, n: int) -> np.ndarray:
    count = b.draw(st.integers(0, 4))
    return np.array([b.draw(st.integers(-n, n - 1)) for _ in range(count)], dtype=np.int64)


def take(b: Builder, x: Node) -> Node:
    axis = b.draw(st.sampled_from([a for a, n in enumerate(x.shape) if n > 0]))
    idx = _index_array(b, x.shape[axis])
    if b.draw(st.booleans()):  # indices as an int64 input, checked at run time
        leaf = b.leaf(idx.shape, "int64")
        b.values[-1] = idx
        b.pool.remove(leaf)
        idx_var = leaf.var
    else:
        idx_var = idx
    if axis == 0 and b.draw(st.booleans()):
        out, name = x.var[idx_var], "advanced_subtensor"
    else:
        out, name = T.take(x.var, idx_var, axis=axis), "take"
    shape = np.take(np.empty(x.shape), idx, axis=axis).shape
    return b.pick(name, Node(out, shape, x.smooth))


def inc_or_set(b: Builder, x: Node) -> Node:
    if x.shape[0] > 0 and b.draw(st.booleans()):  # integer array: repeats accumulate
        key = _index_array(b, x.shape[0])
        region = np.empty(x.shape)[key].shape
        kind = "advanced_"
    else:
        key = _basic_key(b, x.shape)
        region = np.empty(x.shape)[key].shape
        kind = ""
    value_shape = region[len(region) - b.draw(st.integers(0, len(region))):]
    value_shape = tuple(n if b.draw(st.booleans()) else 1 for n in value_shape)
    dtype = "bool" if x.dtype == "bool" else ("float64" if x.is_float else x.dtype)
    y = b.leaf(value_shape, dtype if dtype != "float64" else x.dtype)
    name = b.draw(st.sampled_from(["inc_subtensor", "set_subtensor"]))
    if x.dtype == "bool":
        name = "set_subtensor"
    out = getattr(T, name)(x.var[key], y.var)
    # When x is a view (x0[1:]), the result is the whole x0 with that region updated.
    base = next(n for n in b.pool if n.var is out.owner.inputs[0])
    return b.pick(kind + name, Node(out, base.shape, _smooth(base, y, result=out)))


def _factor(b: Builder, size: int, ndim: int) -> tuple[int, ...]:
    dims = []
    for _ in range(ndim - 1):
        divisors = [d for d in range(1, size + 1) if size % d == 0] if size else [0, 1, 2]
        d = b.draw(st.sampled_from(divisors))
        dims.append(d)
        size = size // d if d else 0
    return (*dims, size)


def reshape(b: Builder, x: Node) -> Node:
    size = math.prod(x.shape)
    shape = _factor(b, size, b.draw(st.integers(1, 3)))
    target = list(shape)
    if size and b.draw(st.booleans()):
        target[b.draw(st.integers(0, len(target) - 1))] = -1
    return b.pick("reshape", Node(T.reshape(x.var, tuple(target)), shape, x.smooth))


def dimshuffle(b: Builder, x: Node) -> Node:
    if b.draw(st.booleans()):
        return b.pick("transpose", Node(x.var.T, x.shape[::-1], x.smooth))
    order = b.draw(st.permutations(range(len(x.shape))))
    pattern: list = list(order)
    for _ in range(b.draw(st.integers(0, 1))):
        pattern.insert(b.draw(st.integers(0, len(pattern))), "x")
    shape = tuple(1 if p == "x" else x.shape[p] for p in pattern)
    return b.pick("dimshuffle", Node(x.var.dimshuffle(*pattern), shape, x.smooth))


def flatten(b: Builder, x: Node) -> Node:
    ndim = b.draw(st.integers(1, len(x.shape)))
    shape = x.shape[:ndim - 1] + (math.prod(x.shape[ndim - 1:]),)
    return b.pick("flatten", Node(T.flatten(x.var, ndim), shape, x.smooth))


def concatenate(b: Builder, x: Node) -> Node:
    axis = b.draw(st.integers(0, len(x.shape) - 1))
    if b.draw(st.booleans()):
        other = x  # the same node twice: its gradient is accumulated
    else:
        n = b.draw(st.integers(0, 3))
        other = b.leaf(x.shape[:axis] + (n,) + x.shape[axis + 1:], x.dtype)
    out = T.concatenate([x.var, other.var], axis=axis)
    shape = x.shape[:axis] + (x.shape[axis] + other.shape[axis],) + x.shape[axis + 1:]
    return b.pick("concatenate", Node(out, shape, _smooth(x, other, result=out)))


def _as_images(b: Builder, x: Node) -> tuple[T.TensorVariable, tuple[int, ...]]:
    """x reshaped to a batch of images (N, C, H, W) of a drawn factorization."""
    shape = _factor(b, math.prod(x.shape), 4)
    return T.reshape(x.var, shape), shape


def _conv_length(size: int, k: int, stride: int, dilation: int, pad: int) -> int:
    return (size + 2 * pad - (k - 1) * dilation - 1) // stride + 1


def conv2d(b: Builder, x: Node) -> Node:
    """x as images, convolved with a filter leaf: a drawn border mode (valid, full,
    half, an int, a pair), strides, dilations, flip and groups; the taps fit the padded
    image."""
    img, (n, c, h, w) = _as_images(b, x)
    groups = b.draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    stride = (b.draw(st.integers(1, 3)), b.draw(st.integers(1, 3)))
    dilation = (b.draw(st.integers(1, 2)), b.draw(st.integers(1, 2)))
    border = b.draw(st.sampled_from(["valid", "full", "half", "int", "pair"]))
    pads = {"int": (b.draw(st.integers(0, 2)),) * 2,
            "pair": (b.draw(st.integers(0, 2)), b.draw(st.integers(0, 2)))}.get(border, (0, 0))
    taps = []
    for size, d, p in zip((h, w), dilation, pads):
        k = b.draw(st.integers(1, 3))
        if border in ("valid", "int", "pair"):  # full and half always fit
            k = min(k, (size + 2 * p - 1) // d + 1)
        taps.append(k)
    if border in ("full", "half"):
        dilated = [(k - 1) * d + 1 for k, d in zip(taps, dilation)]
        pads = tuple(k - 1 if border == "full" else k // 2 for k in dilated)
    mode = border if border in ("valid", "full", "half") else (
        pads[0] if border == "int" else pads)
    filters = b.leaf((groups * b.draw(st.integers(1, 2)), c // groups, *taps),
                     b.draw(st.sampled_from(["float64", "float64", "float32"])))
    flip = b.draw(st.booleans())
    out = T.nnet.conv2d(img, filters.var, border_mode=mode, subsample=stride,
                        filter_dilation=dilation, filter_flip=flip, num_groups=groups)
    shape = (n, filters.shape[0], *[_conv_length(size, k, s, d, p) for size, k, s, d, p in zip(
        (h, w), taps, stride, dilation, pads)])
    return b.pick("conv2d", Node(out, shape, _smooth(x, filters, result=out)))


def _pool_length(size: int, ws: int, stride: int, pad: int, ignore_border: bool) -> int:
    """Theano's pooled length along one axis."""
    if ignore_border:
        return (size + 2 * pad - ws) // stride + 1
    if stride >= ws:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - ws) // stride + 1) + 1


def pool2d(b: Builder, x: Node) -> Node:
    """x as images, pooled: a drawn mode, window, stride, padding and border rule (the
    window fits the padded image when the border is ignored)."""
    img, (n, c, h, w) = _as_images(b, x)
    mode = b.draw(st.sampled_from(["max", "sum", "average_inc_pad", "average_exc_pad"]))
    ignore_border = b.draw(st.booleans())
    ws, pad = [], []
    for size in (h, w):
        k = b.draw(st.integers(1, 3))
        p = b.draw(st.integers(0, k - 1)) if ignore_border else 0
        ws.append(min(k, size + 2 * p) if ignore_border else k)
        pad.append(p)
    stride = tuple(ws) if b.draw(st.booleans()) else (b.draw(st.integers(1, 3)),
                                                        b.draw(st.integers(1, 3)))
    out = T.signal.pool.pool_2d(img, tuple(ws), ignore_border, stride, tuple(pad), mode)
    shape = (n, c, *[_pool_length(size, k, s, p, ignore_border) for size, k, s, p in zip(
        (h, w), ws, stride, pad)])
    # max pooling routes the gradient to ties, which central differences do not see
    smooth = _smooth(x, result=out) and mode != "max"
    return b.pick(f"pool_2d {mode}", Node(out, shape, smooth))


def _has_data(x: Node) -> bool:
    return len(x.shape) > 0 and math.prod(x.shape) > 0


OPS: dict[str, tuple[Callable[[Node], bool], Callable[[Builder, Node], Node]]] = {
    "unary": (lambda x: True, unary),
    "binary": (lambda x: True, binary),
    "reduce": (lambda x: True, reduce),
    "dot": (lambda x: 1 <= len(x.shape) <= 2 and x.dtype != "bool", dot),
    "subtensor": (lambda x: len(x.shape) > 0, subtensor),
    "take": (_has_data, take),
    "inc_or_set": (lambda x: len(x.shape) > 0, inc_or_set),
    "reshape": (lambda x: True, reshape),
    "dimshuffle": (lambda x: len(x.shape) > 0, dimshuffle),
    "flatten": (lambda x: len(x.shape) > 0, flatten),
    "concatenate": (lambda x: len(x.shape) > 0, concatenate),
    "conv2d": (lambda x: _has_data(x) and x.dtype != "bool", conv2d),
    "pool_2d": (lambda x: _has_data(x) and x.is_float, pool2d),
}


def grow(b: Builder, first: tuple[str, ...] = ()) -> Node:
    """One expression: a leaf, then 1-4 random ops, each on the previous result; the
    first drawn from `first` when given (its leaf then has data and is float)."""
    if first:
        shape = tuple(b.draw(st.integers(1, 4)) for _ in range(b.draw(st.integers(1, 3))))
        node = b.leaf(shape, b.draw(st.sampled_from(["float64", "float64", "float32"])))
    else:
        node = b.leaf(b.shape())
    for step in range(b.draw(st.integers(1, 4))):
        names = [k for k, (fits, _) in OPS.items() if fits(node)]
        if first and step == 0:
            names = list(first)
        step = OPS[b.draw(st.sampled_from(names))][1](b, node)
        if math.prod(step.shape) <= MAX_SIZE:
            node = step
            b.pool.append(node)
    return node


# ---------------------------------------------------------------- the tests


def fuzz_settings(test, examples: int = EXAMPLES):
    return seed(SEED)(settings(
        max_examples=examples, deadline=None, derandomize=SEED == 0, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test))


def assert_same(got: np.ndarray, want: np.ndarray, label: str, float32_inputs: bool) -> None:
    """Equal for ints and bools; close for floats, to float32 precision when float32
    values took part (e.g. a float32 product, summed in another order, then upcast)."""
    assert got.shape == want.shape and got.dtype == want.dtype, (label, got, want)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=label)
        return
    rtol = RTOL["float32" if float32_inputs else str(want.dtype)]
    atol = rtol * max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=label)


@fuzz_settings
@given(st.data())
def test_random_graphs_c_equals_reference_and_gradients(data):
    check_random_graph(data)


@functools.partial(fuzz_settings, examples=max(1, EXAMPLES // 2))
@given(st.data())
def test_random_convnet_graphs_c_equals_reference_and_gradients(data):
    """Expressions that start with conv2d or pool_2d, then go on at random."""
    check_random_graph(data, first=("conv2d", "pool_2d"))


def check_random_graph(data: st.DataObject, first: tuple[str, ...] = ()) -> None:
    """1-3 random expressions: C against the reference (mode PY), and the C gradients
    of a cost of them against central differences of the reference."""
    b = Builder(data.draw, np.random.default_rng(data.draw(st.integers(0, 2**16))))
    outs = [grow(b, first) for _ in range(data.draw(st.integers(1, 3)))]
    note(f"ops: {b.ops}")
    # The cost weights each smooth output so that its gradient is not trivially ones.
    smooth = [o for o in outs if o.smooth and o.is_float]
    wrt = [(i, v) for i, v in enumerate(b.inputs) if v.type.dtype == "float64"]
    cost = sum((T.sum(T.sin(o.var) * (k + 1.5)) for k, o in enumerate(smooth)),
               start=T.constant(0.0))
    grads = cgraph.grad(cost, [v for _, v in wrt], disconnected_inputs="ignore")
    targets = [o.var for o in outs] + [cost, *grads]
    c_fn = cgraph.function(b.inputs, targets, on_unused_input="ignore")
    py_fn = cgraph.function(b.inputs, targets, mode="PY", on_unused_input="ignore")
    with np.errstate(all="ignore"):  # mean of an empty axis is NaN in both modes
        got, want = c_fn(*b.values), py_fn(*b.values)
    labels = [f"output {k} ({o.dtype}{list(o.shape)})" for k, o in enumerate(outs)]
    labels += ["cost"] + [f"grad of x{i}" for i, _ in wrt]
    float32_inputs = any(v.type.dtype == "float32" for v in b.inputs)
    for g, w, label in zip(got, want, labels):
        assert_same(np.asarray(g), np.asarray(w), label, float32_inputs)
    for k, o in enumerate(outs):
        assert np.shape(got[k]) == o.shape, labels[k]
    if not smooth or not wrt or not np.isfinite(want[len(outs)]):
        event("gradient not checked")
        return
    event("gradient checked")
    # Gradients: C against central differences of the reference cost.
    cost_py = cgraph.function(b.inputs, cost, mode="PY", on_unused_input="ignore")
    values = list(b.values)

    def cost_at(*float_values):
        for (i, _), v in zip(wrt, float_values):
            values[i] = v
        return float(cost_py(*values))

    numeric = numeric_grad(cost_at, [b.values[i] for i, _ in wrt], 1e-6)
    for (i, _), g, num in zip(wrt, got[len(outs) + 1:], numeric):
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-5, err_msg=f"grad of x{i}")
