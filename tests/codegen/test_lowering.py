"""Lowering as plain data, with no C compiler: small graphs go through
`cgraph.codegen.lower`, and the Program's declarations, steps, constants, slot blocks
and in-place update choices are checked against what each test works out by hand (the
plans of those programs too). Nothing is compiled (the `no_compiler` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import called, decls_of, lowered, plan_block, plan_offset, var_named

import cgraph.tensor as T
from cgraph.codegen import make_plan
from cgraph.codegen.lower import (
    INLINE_VALUES,
    MAX_INLINE_CONSTANT,
    c_literal,
    passed_as_value,
    sanitize,
)
from cgraph.graph.basic import ViewOp
from cgraph.ifelse import ifelse

pytestmark = pytest.mark.usefixtures("no_compiler")


def slot_owners(program) -> dict[int, str]:
    """Who reads or writes each slot of P; fails on a slot claimed twice."""
    owner: dict[int, str] = {0: "workspace size"}

    def claim(slot: int, who: str) -> None:
        assert slot not in owner, f"slot {slot}: {owner[slot]} and {who}"
        owner[slot] = who

    for d in program.decls:
        if d.slot >= 0:
            claim(d.slot, d.name)
        if d.inplace_slot >= 0:
            claim(d.inplace_slot, d.name + " in place")
    for s in program.steps:
        for slot in range(s.slot, s.slot + s.kernel.nparams):
            claim(slot, s.kernel.name)
        if s.guard_slot >= 0:
            claim(s.guard_slot, s.kernel.name + " guard")
    sizes = set()
    for u in program.updates:
        claim(u.flag_slot, u.src + " flag")
        claim(u.bytes_slot, u.src + " bytes")
        sizes.update(slot for _, slot in u.disjoint)
    for slot in sorted(sizes):  # one size slot per argument, shared by the updates
        claim(slot, "argument size")
    return owner


# --------------------------------------------------------------------------- programs


def test_one_elementwise_kernel_program_and_plan():
    x = T.dvector("x")
    low = lowered([x], [T.exp(x)])
    prog = low.program
    assert [(d.kind, d.arg) for d in prog.decls] == [("arg", 0), ("arg", 1)]
    (step,) = prog.steps
    # slot 0 is the workspace size; the loop's block: dense, size, shape[1], strides[2x1]
    assert (step.kernel.family, step.slot, step.kernel.nparams, step.guard_slot) == (
        "elementwise", 1, 5, -1)
    assert (prog.n_args, prog.n_slots, prog.updates) == (2, 6, ())
    assert prog.entry.startswith("cg_") and prog.entry.endswith("_run")
    plan = make_plan(low, ((4,),))
    assert plan.params.tolist() == [0, 1, 4, 4, 1, 1]
    assert (plan.workspace, plan.out_shapes) == (0, ((4,),))
    assert not plan.params.flags.writeable


def test_broadcast_loop_strides():
    """x (2,3) + y (3,): y enters through a view of shape (1,3), stride 0 on axis 0; the
    loop is not dense because one operand does not have the loop's shape."""
    x, y = T.dmatrix("x"), T.dvector("y")
    out = x + y
    called(out=out)
    low = lowered([x, y], [out])
    plan = make_plan(low, ((2, 3), (3,)))
    p, values = plan_block(low, plan, "out")
    assert values == [0, 6, 2, 3, 3, 1, 3, 1, 0, 1]
    assert values[p.strides[2] - p.dense:][:2] == [0, 1]  # the view's row: (0, 1)
    # The view reads y from offset 0.
    (view,) = decls_of(low, "view")
    assert view.base == low.program.decls[1].name and plan.params[view.slot] == 0


def test_the_same_graph_lowers_to_the_same_entry():
    def build():
        x = T.dvector("x")
        return lowered([x], [T.tanh(T.exp(x) * 2.0)]).program
    first, second = build(), build()
    assert first.entry == second.entry and first == second


def test_slots_are_each_owned_once():
    x, w, c = T.dvector("x"), T.dvector("w"), T.iscalar("c")
    m = T.dmatrix("m")
    graphs = [
        lowered([x], [T.exp(x)]),
        lowered([x, w], [x + w, w * 2.0], {1: 1}),
        lowered([c, x], [ifelse(c, T.exp(x), T.sin(x))]),
        lowered([m], [T.sum(m, axis=0), T.dot(m, m.T), m[1:] * 3.0]),
    ]
    for low in graphs:
        owners = slot_owners(low.program)
        assert max(owners) < low.program.n_slots
        # Every slot is used, but for the size slots of arguments no update checks
        # (in place, the size of every input is given a slot).
        unused = set(range(low.program.n_slots)) - set(owners)
        assert len(unused) <= (len(low.fgraph.inputs) if low.program.updates else 0), unused


# --------------------------------------------------------------------------- outputs


def test_an_input_returned_as_output_is_copied():
    x = T.dvector("x")
    low = lowered([x], [x])
    (step,) = low.program.steps
    assert step.kernel.family == "elementwise" and len(step.kernel.inputs) == 1
    assert [d.arg for d in decls_of(low, "arg")] == [0, 1]


def test_an_output_given_twice_gets_two_kernels():
    x = T.dvector("x")
    e = T.exp(x)
    low = lowered([x], [e, e])
    assert len(low.program.steps) == 2
    assert [d.arg for d in decls_of(low, "arg")] == [0, 1, 2]
    assert decls_of(low, "buffer") == []  # both results are output arguments


def test_a_view_output_is_copied_and_its_offset_planned():
    """x[::-1] and x[2:] of a (5,) vector: views at offsets 4 (stride -1) and 2."""
    x = T.dvector("x")
    rev, tail = x[::-1], x[2:]
    called(rev=rev, tail=tail)
    low = lowered([x], [rev, tail])
    assert len([n for n in low.nodes if isinstance(n.op, ViewOp)]) == 2
    assert len(low.program.steps) == 2
    plan = make_plan(low, ((5,),))
    assert plan.out_shapes == ((5,), (3,))
    assert (plan_offset(low, plan, "rev"), plan_offset(low, plan, "tail")) == (4, 2)
    (view,) = [d for d in decls_of(low, "view") if d.slot == low.slots[id(var_named(low, "rev"))]]
    assert view.base == low.program.decls[0].name  # a view of x
    (step,) = [s for s in low.program.steps if s.kernel.inputs[0].var == view.name]
    values = plan.params[step.slot:step.slot + step.kernel.nparams].tolist()
    # not dense (a reversed operand); size 5; strides: output 1, input -1
    assert values == [0, 5, 5, 1, -1]


# --------------------------------------------------------------------------- constants


def test_small_constants_are_literals_and_big_ones_arguments():
    x = T.dvector("x")
    small = np.array([1.5, 2.0, -0.25])
    big = np.arange(MAX_INLINE_CONSTANT + 1, dtype="float64")
    low = lowered([x], [x + small, x * big])
    consts = decls_of(low, "const")
    assert [d.values for d in consts] == [("1.5", "2.0", "-0.25")]
    big_decl = [d for d in decls_of(low, "arg") if d.comment.startswith("constant")]
    (b,) = big_decl
    assert b.arg == 3  # after the input and the two outputs
    assert low.program.n_args == 4
    np.testing.assert_array_equal(low.arg_constants[0], big)


def test_float_scalars_are_arguments_so_a_new_value_is_the_same_c():
    x = T.dvector("x")
    first = lowered([x], [x * 0.37])
    second = lowered([x], [x * 0.38])
    assert first.program.entry == second.program.entry
    assert [a.reshape(-1).tolist() for a in first.arg_constants] == [[0.37]]
    assert [a.reshape(-1).tolist() for a in second.arg_constants] == [[0.38]]
    # A value the rewrites look for stays a literal, and so does an integer.
    half = lowered([x], [x * 0.5])
    assert half.arg_constants == [] and [d.values for d in decls_of(half, "const")] == [("0.5",)]
    i = T.lvector("i")
    three, four = lowered([i], [i * 3]), lowered([i], [i * 4])
    assert three.program.entry != four.program.entry
    assert [d.values for d in decls_of(three, "const")] == [("3LL",)]


def test_passed_as_value_rule():
    assert passed_as_value(np.array(0.37))
    assert not passed_as_value(np.array(0.37), prefix="s0_")  # inside a scan step
    assert not passed_as_value(np.array([0.37, 0.38]))
    assert not passed_as_value(np.array(3))
    assert not any(passed_as_value(np.array(v)) for v in INLINE_VALUES)


def test_c_literals_are_exact():
    assert c_literal(0.1, "float64") == "0.1"
    assert float(c_literal(1 / 3, "float64")) == 1 / 3
    assert c_literal(np.float32(0.1), "float32") == repr(float(np.float32(0.1)))
    assert [c_literal(v, "float64") for v in (np.nan, np.inf, -np.inf)] == [
        "NAN", "INFINITY", "-INFINITY"]
    assert (c_literal(True, "bool"), c_literal(0, "bool")) == ("1", "0")
    assert c_literal(-7, "int32") == "-7LL" and c_literal(255, "uint8") == "255ULL"


def test_user_text_cannot_close_a_c_comment():
    text = sanitize("loss */ int main() { /*" + "x" * 200)
    assert "*/" not in text and "/*" not in text and len(text) == 80


# --------------------------------------------------------------------------- updates


def test_an_elementwise_update_is_written_in_place():
    """w <- w * 2 after x + w: the update is the last kernel and reads w directly."""
    x, w = T.dvector("x"), T.dvector("w")
    upd = w * 2.0
    low = lowered([x, w], [x + w, upd], {1: 1})
    prog = low.program
    (decl,) = decls_of(low, "update")
    assert (decl.arg, decl.inplace_slot) == (1, decl.slot + 1)
    (copy,) = prog.updates
    assert (copy.src, copy.shared_arg, copy.out_arg) == (decl.name, 1, 3)
    assert copy.inplace_slot == decl.inplace_slot
    assert copy.node == len(low.nodes) - 1  # scheduled last
    (size_slot,) = [slot for a, slot in copy.disjoint if a == 0]
    assert [a for a, _ in copy.disjoint] == [0]  # every other argument is checked
    plan = make_plan(low, ((3,), (3,)))
    P = plan.params
    assert (P[copy.inplace_slot], P[copy.flag_slot], P[copy.bytes_slot]) == (1, 1, 24)
    assert P[size_slot] == 24 and plan.inplace == (True,)


def test_an_update_of_another_shape_is_not_written_in_place():
    x, w = T.dvector("x"), T.dvector("w")
    w1 = T.tensor("float64", shape=(1,), name="w")  # stretches (Theano's rule)
    low = lowered([x, w1], [w1 + x], {0: 1})
    (copy,) = low.program.updates
    assert copy.inplace_slot >= 0  # chosen when lowering; the plan decides per shape
    plan = make_plan(low, ((3,), (1,)))  # w (1,) + x (3,) is (3,)
    P = plan.params
    assert (P[copy.inplace_slot], P[copy.flag_slot], P[copy.bytes_slot]) == (0, 0, 24)
    assert plan.inplace == (False,) and plan.out_shapes == ((3,),)
    same = make_plan(lowered([x, w], [w + x], {0: 1}), ((3,), (3,)))
    assert same.params[copy.inplace_slot] == 1 and same.inplace == (True,)


def test_an_update_reading_its_variable_through_a_view_is_copied():
    w = T.dmatrix("w")
    low = lowered([w], [w + w.T], {0: 0})
    assert decls_of(low, "update") == []
    (copy,) = low.program.updates
    assert (copy.inplace_slot, copy.disjoint) == (-1, ())
    plan = make_plan(low, ((2, 2),))
    assert plan.params[copy.flag_slot] == 1 and plan.params[copy.bytes_slot] == 32


def test_an_update_followed_by_a_kernel_that_can_fail_is_copied():
    """w2[i] reads the update, so it runs after it; a gather can fail (an index out of
    range), and a failed call must leave w as it was."""
    i, w = T.lvector("i"), T.dmatrix("w")
    w2 = w * 2.0
    low = lowered([i, w], [w2[i], w2], {1: 1})
    assert [s.kernel.family for s in low.program.steps] == ["elementwise", "subtensor_gather"]
    (copy,) = low.program.updates
    assert copy.inplace_slot == -1


def test_update_only_kernels_run_last_those_that_can_fail_first():
    x, w, v, i = T.dvector("x"), T.dvector("w"), T.dmatrix("v"), T.lvector("i")
    low = lowered([x, w, v, i], [T.exp(x), w * 2.0, v[i]], {1: 1, 2: 2})
    assert [s.kernel.family for s in low.program.steps] == ["elementwise",
                                                            "subtensor_gather",
                                                            "elementwise"]
    by_shared = {u.shared_arg: u for u in low.program.updates}
    assert by_shared[1].inplace_slot >= 0  # the elementwise update, after the gather
    assert by_shared[2].inplace_slot == -1  # a gather never writes over its own storage


