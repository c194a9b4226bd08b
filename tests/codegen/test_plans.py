"""Per-shape plans as plain data, with no C compiler: `cgraph.codegen.make_plan` on
small lowered graphs, and the workspace (buffer reuse, views, first fit), the kernels'
plan values (reductions, products) and the values shapes depend on (lazy branches,
reshape) checked against what each test works out by hand. Nothing is compiled (the
`no_compiler` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import aligned, called, lowered, plan_block, plan_offset, var_named

import cgraph.tensor as T
from cgraph.codegen import ShapeError, make_plan
from cgraph.codegen.memory import Workspace, last_uses, view_bases
from cgraph.graph.interpret import MissingValue
from cgraph.ifelse import ifelse
from cgraph.tensor.blas_ops import DOT_PATHS

pytestmark = pytest.mark.usefixtures("no_compiler")


# --------------------------------------------------------------------------- workspace


def test_an_elementwise_chain_reuses_one_buffer():
    """exp -> sin -> cos -> tanh on 10 float64: each intermediate takes over the buffer
    of the one it reads (same shape and dtype, dead after), so one block of 80 bytes
    rounded up to 128 serves them all."""
    x = T.dvector("x")
    a = T.exp(x)
    b = T.sin(a)
    c = T.cos(b)
    called(a=a, b=b, c=c)
    low = lowered([x], [T.tanh(c)])
    plan = make_plan(low, ((10,),))
    assert [plan_offset(low, plan, v) for v in "abc"] == [0, 0, 0]
    assert plan.workspace == plan.params[0] == aligned(80) == 128


def test_a_new_dtype_gets_a_new_buffer_and_a_freed_block_is_reused():
    """a = exp(x) f64 (128 at 0); b = float32(a) cannot take a over (dtype) and a is
    still read, so b goes at 128 (40 -> 64 bytes); a is dead after b, so
    c = float64(b) gets a's block at 0 (first fit). Workspace 192."""
    x = T.dvector("x")
    a = T.exp(x)
    b = T.cast(a, "float32")
    c = T.cast(b, "float64")
    called(a=a, b=b, c=c)
    low = lowered([x], [T.exp(c)])
    plan = make_plan(low, ((10,),))
    assert [plan_offset(low, plan, v) for v in "abc"] == [0, 128, 0]
    assert plan.workspace == 192


def test_an_input_read_through_a_view_is_not_taken_over():
    """b = a + a.T reads a out of order: b gets its own block. b = a + a may write
    over a."""
    m = T.dmatrix("m")
    a = T.exp(m)
    b = a + a.T
    called(a=a, b=b)
    low = lowered([m], [T.sin(b)])
    plan = make_plan(low, ((3, 3),))
    assert (plan_offset(low, plan, "a"), plan_offset(low, plan, "b")) == (0, 128)
    assert plan.workspace == 256
    a2 = T.exp(m)
    b2 = a2 + a2
    called(a=a2, b=b2)
    low2 = lowered([m], [T.sin(b2)])
    plan2 = make_plan(low2, ((3, 3),))
    assert (plan_offset(low2, plan2, "a"), plan_offset(low2, plan2, "b")) == (0, 0)
    assert plan2.workspace == 128


def test_a_view_keeps_its_base_alive_until_the_views_last_reader():
    m = T.dmatrix("m")
    a = T.exp(m)
    t = a.T
    b = T.sin(m)
    out = t * b.T
    called(a=a, t=t, out=out)
    low = lowered([m], [out])
    nodes = low.nodes
    a, t, out = var_named(low, "a"), var_named(low, "t"), var_named(low, "out")
    assert view_bases(nodes)[id(t)] == id(a)
    last = last_uses(nodes)
    assert nodes.index(t.owner) < nodes.index(out.owner)
    assert last[id(a)] == nodes.index(out.owner)  # through the view t
    assert last[id(out)] == nodes.index(out.owner)  # nothing reads it: ends where made


def test_workspace_first_fit_and_merging():
    ws = Workspace([], 64)
    assert [ws.place(k, n) for k, n in ((1, 10), (2, 100), (3, 64))] == [0, 64, 192]
    assert ws.size == 256
    ws._release(*ws._placed.pop(1))
    ws._release(*ws._placed.pop(2))
    assert ws._free == [(0, 192)]  # the two freed neighbours merged
    assert ws.place(4, 65) == 0 and ws._free == [(128, 64)]
    assert ws.place(5, 64) == 128 and ws._free == []
    assert ws.place(6, 1) == 256 and ws.size == 320


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("axis, transposed, expected", [
    # mode, n_out, m, kept_shape, kept_strides, red_shape, red_strides
    (0, False, [2, 3, 2, 3, 1, 2, 3]),   # the reduced axis leads a dense input
    (1, False, [1, 2, 3, 2, 3, 3, 1]),   # the reduced axis trails a dense input
    (0, True, [3, 2, 3, 2, 3, 3, 1]),    # m.T (3, 2), strides (1, 3): rows of stride 1
])
def test_reduction_params(axis, transposed, expected):
    m = T.dmatrix("m")
    out = T.sum(m.T if transposed else m, axis=axis)
    called(out=out)
    low = lowered([m], [out])
    plan = make_plan(low, ((2, 3),))
    p, values = plan_block(low, plan, "out")
    assert low.kernels[id(var_named(low, "out").owner)].family == "careduce"
    assert values == expected
    assert int(p.m) - int(p.mode) == 2  # named offsets: mode, n_out, m


@pytest.mark.parametrize("a_shape, b_shape, path", [
    ((2, 3), (3, 4), "loop"),    # 24 multiply-adds: below BLAS_MIN_WORK
    ((2, 0), (0, 3), "zeros"),   # K = 0: a (2, 3) of zeros
    ((0, 3), (3, 2), "empty"),   # M = 0: nothing to write
])
def test_dot_product_params(a_shape, b_shape, path):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    out = T.dot(a, b)
    called(out=out)
    low = lowered([a, b], [out])
    plan = make_plan(low, (a_shape, b_shape))
    p, values = plan_block(low, plan, "out")
    start = int(p)
    at = lambda slot: values[int(slot) - start]  # noqa: E731
    (m, k), (_, n) = a_shape, b_shape
    assert (at(p.product.M), at(p.product.N), at(p.product.K)) == (m, n, k)
    assert values[int(p.product.sa) - start:][:2] == [max(k, 1), 1]
    assert values[int(p.product.sb) - start:][:2] == [max(n, 1), 1]
    assert at(p.product.path) == DOT_PATHS[path]
    assert plan.out_shapes == ((m, n),)


def test_a_transposed_operand_is_read_with_its_strides():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    out = T.dot(a.T, b)  # a is (3, 2): a.T (2, 3) has strides (1, 2)
    called(out=out)
    low = lowered([a, b], [out])
    plan = make_plan(low, ((3, 2), (3, 4)))
    p, values = plan_block(low, plan, "out")
    start = int(p)
    assert values[int(p.product.sa) - start:][:2] == [1, 2]


# --------------------------------------------------------------------------- values


def test_lazy_branches_get_run_flags_from_the_condition_value():
    c, x = T.iscalar("c"), T.dvector("x")
    yes, no = T.exp(x), T.sin(x)
    called(yes=yes, no=no)
    low = lowered([c, x], [ifelse(c, yes, no)])
    assert low.value_args == (0,)
    flag = {v: low.guard_slots[id(var_named(low, v).owner)] for v in ("yes", "no")}
    steps = {s.kernel.name: s for s in low.program.steps}
    assert sorted(s.guard_slot for s in steps.values() if s.guard_slot >= 0) == sorted(
        flag.values())
    for cond, taken, skipped in ((1, "yes", "no"), (0, "no", "yes")):
        plan = make_plan(low, ((), (3,)), [np.array(cond, "int32"), np.zeros(3)])
        assert (plan.params[flag[taken]], plan.params[flag[skipped]]) == (1, 0)
        _, values = plan_block(low, plan, taken)
        assert values == [1, 3, 3, 1, 1]
        _, values = plan_block(low, plan, skipped)
        assert values == [0] * 5  # not planned: no shapes, no parameters
    with pytest.raises(MissingValue, match="the value of input c"):
        make_plan(low, ((), (3,)))


def test_a_shape_from_a_value_is_planned_from_the_argument():
    x, n = T.dvector("x"), T.lscalar("n")
    low = lowered([x, n], [T.reshape(x, (n, -1))])
    assert low.value_args == (1,)
    plan = make_plan(low, ((6,), ()), [np.zeros(6), np.array(2)])
    assert plan.out_shapes == ((2, 3),)
    assert make_plan(low, ((6,), ()), [np.zeros(6), np.array(3)]).out_shapes == ((3, 2),)


def test_shapes_that_do_not_broadcast_name_the_node():
    x, y = T.dvector("x"), T.dvector("y")
    out = x + y
    called(out=out)
    low = lowered([x, y], [out])
    with pytest.raises(ShapeError, match=r"input shapes: \(3,\), \(4,\)") as info:
        make_plan(low, ((3,), (4,)))
    assert info.value.node is var_named(low, "out").owner
    assert "in node add(x: float64[?], y: float64[?])" in str(info.value)
    assert info.value.input_shapes == ((3,), (4,))
