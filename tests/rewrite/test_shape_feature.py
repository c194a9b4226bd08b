"""The shape feature (cgraph/rewrite/shapes.py): symbolic shapes kept through the
rewrites, and the rewrites it proves. Structure is checked on the rewritten graphs;
values against numpy and mode PY (no rewrites)."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Apply, Op
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite import PASSES
from cgraph.rewrite.shapes import ShapeFeature, shape_feature, shape_noops
from cgraph.tensor.shape import Shape_i
from cgraph.tensor.specify_shape import specify_shape
from cgraph.tensor.type import TensorType, as_tensor_variable
from tests.rewrite.test_rewrite import check_equal, ops

RNG = np.random.default_rng(19)


class PassThrough(Op):
    """Test op: its output has its input's shape (an infer_shape that only passes
    the lengths along)."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]


class Doubled(Op):
    """Test op: the first axis doubled (an infer_shape that needs the number)."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        shape = (None,) + x.type.shape[1:]
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def infer_shape(self, node, shapes):
        return [(2 * shapes[0][0],) + tuple(shapes[0][1:])]


def test_classes_follow_elementwise_products_and_each_ops_infer_shape():
    x, w, v = T.dmatrix("x"), T.dmatrix("w"), T.dvector("v")
    h = T.tanh(T.dot(x, w))          # h: (x rows, w cols)
    g = h * T.exp(h).T.T + v          # v joins w's columns (Theano's rule)
    p, d = PassThrough()(g), Doubled()(g)
    fgraph = FunctionGraph([x, w, v], [p, d, T.max(g, axis=0)])
    shapes = ShapeFeature(fgraph)
    fx, fw, fv = fgraph.inputs
    out_p, out_d, out_max = fgraph.outputs
    assert shapes.dims(out_p) == (shapes.dims(fx)[0], shapes.dims(fw)[1])
    assert shapes.dims(fw)[1] is shapes.dims(fv)[0]
    assert shapes.dims(out_max) == (shapes.dims(fv)[0],)
    # Doubled's length needs arithmetic: its infer_shape fails on the symbols, so
    # its output gets fresh classes (never a wrong one)
    known = shapes.dims(fx) + shapes.dims(fw)
    assert not any(d is e for d in shapes.dims(out_d) for e in known)
    assert shapes.source(shapes.dims(out_p)[1]) in [(fw, 1), (fv, 0)]
    # static lengths name their class; Theano's rule makes an unknown axis one of them
    m, c = T.tensor("float64", shape=(3, None), name="m"), T.dmatrix("c")
    f2 = FunctionGraph([m, c], [m + c])
    assert ShapeFeature(f2).dims(f2.outputs[0])[0] == 3


def test_feature_is_kept_through_the_passes_and_proves_more_after_them():
    """Attached before the pipeline, the feature is never rebuilt: each replacement
    joins its classes with what it replaces, so the final graph's variables (fused
    loops, gemms) have the classes proven on the graph as built."""
    x, w, b = T.dmatrix("x"), T.dmatrix("w"), T.dvector("b")
    z = T.dot(x, w) + b
    cost = T.sum(T.tanh(z) ** 2) + T.sum(T.nnet.sigmoid(z))
    gw, gb = cgraph.grad(cost, [w, b])
    fgraph = FunctionGraph([x, w, b], [gw, gb])
    shapes = shape_feature(fgraph)
    fx, fw, fb = fgraph.inputs
    before = len(fgraph.toposort())
    for _, run in PASSES:
        run(fgraph)
    assert fgraph.features(ShapeFeature) == [shapes]
    assert len(fgraph.toposort()) < before
    out_w, out_b = fgraph.outputs
    assert shapes.same_shape(out_w, fw) and shapes.same_shape(out_b, fb)
    assert shapes.dims(fw)[1] is shapes.dims(fb)[0]
    for node in fgraph.toposort():  # every variable of the final graph has its classes
        for v in node.outputs:
            assert len(shapes.dims(v)) == v.ndim
    check_equal([x, w, b], [gw, gb],
                [RNG.random((5, 3)), RNG.random((3, 4)), RNG.random(4)])


def test_replacements_join_classes():
    x, y = T.dvector("x"), T.dvector("y")
    fgraph = FunctionGraph([x, y], [T.exp(x), y * 2])
    shapes = shape_feature(fgraph)
    fx, fy = fgraph.inputs
    assert not shapes.same_shape(fx, fy)
    (ex, y2) = fgraph.outputs
    fgraph.replace(y2, T.exp(fx) + fy)   # y's axis now one with x's
    assert shapes.same_shape(fx, fy)
    assert shapes.dims(fgraph.outputs[1]) == shapes.dims(fx)


def test_shape_of_an_intermediate_reads_the_input():
    """(exp(x) * y).shape[0] and .shape: x's shape, so exp(x) * y is never computed."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    big = T.exp(x) * y
    outs = [big.shape[0] * 2, big.shape, T.dot(big, y.T).shape[1]]
    fgraph = FunctionGraph([x, y], outs)
    assert len(fgraph.toposort()) == 8
    assert shape_noops(fgraph) == {"shape_i_of_input": 2, "shape_of_input": 1}
    names = ops(fgraph)
    assert "exp" not in names and "Dot" not in names and len(names) == 4
    assert all(n.inputs[0] in fgraph.inputs for n in fgraph.toposort()
               if isinstance(n.op, Shape_i))
    args = [RNG.random((3, 4)), RNG.random((3, 4))]
    f = check_equal([x, y], outs, args)
    assert [int(a) for a in f(*args)[::2]] == [6, 3]
    # As with Theano's ShapeFeature, a product computed for its shape alone is not
    # computed, nor checked: x and y that do not broadcast give x's shape
    np.testing.assert_array_equal(f(RNG.random((3, 4)), RNG.random((2, 4)))[1], [3, 4])
    g = cgraph.function([x, y], [big.shape, big])  # the product computed: checked
    with pytest.raises(ValueError, match="broadcast"):
        g(RNG.random((3, 4)), RNG.random((2, 4)))


def test_static_lengths_make_shapes_constants():
    """y's columns are x's (Theano's rule), which has 5: y.shape[1] is a constant."""
    x = T.tensor("float64", shape=(None, 5), name="x")
    y = T.dmatrix("y")
    outs = [y.shape[1] * 2, T.exp(x) + y]
    fgraph = FunctionGraph([x, y], outs)
    assert shape_noops(fgraph) == {"shape_i_of_input": 1}
    assert "Shape_i" not in ops(fgraph)
    args = [RNG.random((2, 5)), RNG.random((2, 5))]
    f = check_equal([x, y], outs, args)
    assert int(f(*args)[0]) == 10


def test_proven_checks_are_removed_and_others_kept():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    # a tensordot's shape check of a summed axis against itself
    td = T.tensordot(x, x, axes=[[0, 1], [0, 1]])
    # a stated shape the graph proves (y's shape, y broadcast with x), one it does not
    proven = specify_shape(T.exp(x) * y, y.shape)
    unproven = specify_shape(T.exp(x), (y.shape[1], None))
    outs = [td, proven, unproven]
    fgraph = FunctionGraph([x, y], outs)
    found = shape_noops(fgraph)
    assert found["summed_axes_proven"] == 1 and found["specify_shape_proven"] == 1
    assert ops(fgraph).count("SpecifyShape") == 1 and "SummedAxes" not in ops(fgraph)
    args = [RNG.random((3, 3)), RNG.random((3, 3))]
    check_equal([x, y], outs, args)
    f = cgraph.function([x, y], outs)
    with pytest.raises(ValueError, match="specify_shape"):
        f(RNG.random((3, 4)), RNG.random((3, 4)))


def test_a_check_does_not_prove_itself():
    """x + specify_shape(x, (n,)): the check's claim is not recorded as a fact about
    x, so it is not removed, and a wrong n still raises."""
    x, n = T.dvector("x"), T.lscalar("n")
    out = x + specify_shape(x, (n,))
    fgraph = FunctionGraph([x, n], [out])
    assert "specify_shape_proven" not in shape_noops(fgraph)
    f = cgraph.function([x, n], out)
    np.testing.assert_allclose(f(np.arange(3.0), 3), [0.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="specified shape"):
        f(np.arange(3.0), 4)


def test_a_sum_over_an_axis_proven_of_length_one_is_a_view():
    """dot(c, w) with c a column: w has one row, so sum(w, axis=0) sums nothing."""
    c, w = T.dcol("c"), T.dmatrix("w")
    outs = [T.dot(c, w), T.sum(w, axis=0) * 2]
    fgraph = FunctionGraph([c, w], outs)
    assert shape_noops(fgraph) == {"sum_of_length_one": 1}
    assert "Sum" not in ops(fgraph) and "Squeeze" in [type(n.op).__name__
                                                     for n in fgraph.toposort()]
    args = [RNG.random((4, 1)), RNG.random((1, 5))]
    f = check_equal([c, w], outs, args)
    np.testing.assert_allclose(f(*args)[1], args[1].sum(axis=0) * 2)
    with pytest.raises(ValueError):  # a w of two rows: the product refuses it
        f(args[0], RNG.random((2, 5)))


def test_lengths_given_as_values_join_their_classes():
    """alloc's and reshape's lengths given by x.shape[i] are x's classes: the shape
    of their result reads x's (reshape's -1 stays unknown)."""
    x = T.dmatrix("x")
    r = T.reshape(T.exp(x), (x.shape[1], x.shape[0]))
    a = T.alloc(1.0, x.shape[0], 3)
    flat = T.reshape(x, (-1, 2))
    outs = [r.shape[0] + a.shape[0], flat.shape[0], flat]
    fgraph = FunctionGraph([x], outs)
    shapes = shape_feature(fgraph)
    fx = fgraph.inputs[0]
    assert shapes.dims(fgraph.outputs[2])[1] == 2
    assert all(shapes.dims(fgraph.outputs[2])[0] is not d for d in shapes.dims(fx))
    assert shape_noops(fgraph) == {"shape_i_of_input": 2}
    assert "Reshape" in ops(fgraph) and "Alloc" not in ops(fgraph)  # flat is an output
    check_equal([x], outs, [RNG.random((3, 4))])


def test_a_join_joins_the_parts_other_axes():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    k = T.tensor("float64", shape=(None, 2), name="k")
    j = T.concatenate([T.exp(x), y, k], axis=1)
    outs = [j.shape[0], j * 2, T.concatenate([k, k], axis=1)]
    fgraph = FunctionGraph([x, y, k], outs)
    shapes = shape_feature(fgraph)
    fx, fy, fk = fgraph.inputs
    assert shapes.dims(fx)[0] is shapes.dims(fy)[0] is shapes.dims(fk)[0]
    assert shapes.dims(fgraph.outputs[2])[1] == 4
    assert all(shapes.dims(fgraph.outputs[1])[1] is not d
               for d in shapes.dims(fx) + shapes.dims(fy))
    assert shape_noops(fgraph) == {"shape_i_of_input": 1}
    check_equal([x, y, k], outs, [RNG.random((3, 4)), RNG.random((3, 1)), RNG.random((3, 2))])
