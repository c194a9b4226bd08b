"""Soundness of the shape feature on random graphs: every class of lengths it forms
(from the types, Theano's broadcasting rule, the lengths given as values and each
op's own `infer_shape` run on symbols) must hold of the values a run computes.

The graphs are the differential fuzzer's (tests/compile/test_fuzz.py: elementwise,
reductions, products, indexing, reshapes, joins, conv2d, pooling) together with their
gradients, which bring SumTo, BroadcastLike and the other gradient ops. No compile:
the values come from the numpy interpreter, so this runs in the quick set.

An unsound class would let `shape_noops` remove a check or a reduction that the
call needs: this is the audit of every op's `infer_shape` against symbols.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Constant
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import Interpreter
from cgraph.rewrite.shapes import ShapeFeature
from tests.compile.test_fuzz import Builder, fuzz_settings, grow


def _graph(data: st.DataObject, first: tuple[str, ...] = ()) -> tuple[FunctionGraph, list]:
    b = Builder(data.draw, np.random.default_rng(data.draw(st.integers(0, 2**16))))
    outs = [grow(b, first) for _ in range(data.draw(st.integers(1, 3)))]
    note(f"ops: {b.ops}")
    floats = [o for o in outs if o.is_float]
    wrt = [v for v in b.inputs if v.type.dtype == "float64"]
    targets = [o.var for o in outs]
    if floats and wrt:
        cost = sum((T.sum(T.sin(o.var) * (k + 1.5)) for k, o in enumerate(floats)),
                   start=T.constant(0.0))
        targets += [cost, *cgraph.grad(cost, wrt, disconnected_inputs="ignore")]
    return FunctionGraph(b.inputs, targets), b.values


def check_classes_hold(fg: FunctionGraph, values: list,
                       feature: ShapeFeature | None = None) -> None:
    """Run `fg` on `values` and check each class of the feature (by default, a new
    one of `fg`) against the lengths computed."""
    feature = feature or ShapeFeature(fg)
    with np.errstate(all="ignore"):
        computed = Interpreter(fg.inputs, fg.outputs).values(values)
    seen: dict[int, tuple[object, int, str]] = {}  # id(class) -> (class, length, where)
    variables = [*fg.inputs, *(v for node in fg.toposort() for v in node.outputs)]
    for v in variables:
        if id(v) not in computed or isinstance(v, Constant):
            continue
        shape = np.shape(computed[id(v)])
        dims = feature.dims(v)
        assert len(dims) == len(shape), (v, dims, shape)
        made_by = f" = {v.owner.op}(...)" if v.owner is not None else ""
        for axis, (d, n) in enumerate(zip(dims, shape)):
            where = f"axis {axis} of {v}{made_by} (computed shape {shape})"
            if type(d) is int:
                assert d == n, f"the feature says length {d}: {where}"
            else:
                first = seen.setdefault(id(d), (d, n, where))
                assert first[1] == n, \
                    f"one class, lengths {first[1]} and {n}: {first[2]} and {where}"


@fuzz_settings
@given(st.data())
def test_classes_hold_on_random_graphs_and_their_gradients(data):
    check_classes_hold(*_graph(data))


@fuzz_settings
@given(st.data())
def test_classes_hold_on_random_convnet_graphs(data):
    check_classes_hold(*_graph(data, first=("conv2d", "pool_2d")))


def test_an_unsound_class_is_caught():
    """The check can fail: two inputs of unrelated lengths put in one class are
    reported with both places."""
    x, y = T.dvector("x"), T.dvector("y")
    fg = FunctionGraph([x, y], [x * 2.0, y * 2.0])
    feature = ShapeFeature(fg)
    feature.union(feature.dims(fg.inputs[0])[0], feature.dims(fg.inputs[1])[0])
    with pytest.raises(AssertionError, match="one class, lengths 3 and 4"):
        check_classes_hold(fg, [np.zeros(3), np.zeros(4)], feature)
