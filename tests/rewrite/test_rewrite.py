"""Rewrite passes: each one fires on a graph built for it (checked on the rewritten
graph's structure), and the compiled result equals the unrewritten graph's (mode PY,
optimizer 'None') on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.configdefaults import Config
from cgraph.graph.basic import Constant
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite import PASSES, Rule, RuleTable, graph_rewrite, rewrite_graph, scalar_name
from cgraph.tensor import nnet
from cgraph.tensor.elemwise import Elemwise, FusedElemwise, cast_scalar_op
from cgraph.tensor.reduce import Sum
from cgraph.tensor.reductions import MaxMin
from cgraph.tensor.shape import DimShuffle

RNG = np.random.default_rng(42)


def rewritten(inputs, outputs, optimizer="fast_run", exclude=("fusion",)) -> FunctionGraph:
    """The FunctionGraph of `outputs` after the pipeline (fusion off unless asked)."""
    fgraph = FunctionGraph(inputs, outputs)
    cfg = Config()
    cfg.optimizer = optimizer
    cfg.rewrite_exclude = exclude
    rewrite_graph(fgraph, cfg)
    return fgraph


def ops(fgraph: FunctionGraph) -> list[str]:
    """The graph's ops by name (elementwise ops by their scalar op's name)."""
    return [scalar_name(n) or type(n.op).__name__ for n in fgraph.toposort()]


def check_equal(inputs, outputs, args, rtol=1e-12) -> cgraph.Function:
    """Compiled (C, all rewrites) equals the reference (PY, no rewrites)."""
    f = cgraph.function(inputs, outputs)
    with cgraph.config.change_flags(optimizer="None"):
        ref = cgraph.function(inputs, outputs, mode="PY")
    for got, want in zip(f(*args), ref(*args)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-14, equal_nan=True)
    return f


# --------------------------------------------------------------------------- driver


def test_driver_runs_rules_to_a_fixed_point_and_guards_types():
    x = T.dvector("x")
    neg = T.ELEMENTWISE["neg"]
    out = neg(neg(neg(neg(x))))
    fgraph = FunctionGraph([x], [out])
    neg_neg = Rule("neg_neg", "neg", lambda n: (n.inputs[0].owner.inputs[0]
                                                if scalar_name(n.inputs[0].owner) == "neg"
                                                else None))
    fired = graph_rewrite(fgraph, RuleTable("t", [neg_neg]))
    assert fired == {"neg_neg": 2}
    assert fgraph.outputs[0] is fgraph.inputs[0]
    # A rule whose replacement has another type does not fire.
    y = T.dvector("y")
    fgraph = FunctionGraph([y], [T.exp(y)])
    to_float32 = Rule("bad", "exp", lambda n: T.cast(n.inputs[0], "float32"))
    assert graph_rewrite(fgraph, RuleTable("t", [to_float32])) == {}
    assert ops(fgraph) == ["exp"]


def test_rule_tables_compose_and_match_classes():
    a = RuleTable("a", [Rule("r1", "add", lambda n: None)])
    b = RuleTable("b", [Rule("r2", DimShuffle, lambda n: None), Rule("r3", None, lambda n: None)])
    both = a + b
    assert len(both) == 3 and both.name == "a+b"
    x = T.dmatrix("x")
    node = (x + x).owner
    assert [r.name for r in both.rules_for(node)] == ["r1", "r3"]
    assert [r.name for r in both.rules_for(x.T.owner)] == ["r2", "r3"]


def test_pipeline_is_named_and_configurable():
    names = [name for name, _ in PASSES]
    assert names[0] == "merge" and names[-2:] == ["fusion", "step_fusion"]
    x = T.dvector("x")
    out = T.exp(x * 1.0) + T.exp(x * 1.0)
    assert ops(rewritten([x], [out], optimizer="None")).count("exp") == 2
    fast_compile = rewritten([x], [out], optimizer="fast_compile")
    assert ops(fast_compile).count("exp") == 1 and "mul" in ops(fast_compile)
    assert ops(rewritten([x], [out])) == ["exp", "add"]
    with pytest.raises(ValueError, match="optimizer"):
        cgraph.config.optimizer = "O3"
    with cgraph.config.change_flags(optimizer="None", rewrite_exclude="fusion:merge"):
        assert cgraph.config.rewrite_exclude == ("fusion", "merge")
        f = cgraph.function([x], out)
        assert f.rewrites == {}
    assert cgraph.config.optimizer == "fast_run" and cgraph.config.rewrite_exclude == ()
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], out)
    assert "fusion" not in f.rewrites and "merge" in f.rewrites


# --------------------------------------------------------------------------- merge, folding


def test_merge_identical_subgraphs_and_equal_constants():
    x, y = T.dvectors("x", "y")
    a = T.tanh(x * y + 2.0)
    b = T.tanh(x * y + 2.0)  # built twice, with a second constant 2.0
    fgraph = rewritten([x, y], [a + b, a * 3])
    assert ops(fgraph).count("tanh") == 1 and ops(fgraph).count("add") == 2
    constants = {id(v) for n in fgraph.toposort() for v in n.inputs if isinstance(v, Constant)}
    assert len(constants) == 2  # 2.0 (once) and 3.0
    check_equal([x, y], [a + b, a * 3], [RNG.random(5), RNG.random(5)])


def test_constant_folding_and_its_size_limit():
    x = T.dvector("x")
    c = T.constant(np.linspace(0, 1, 7))
    small = x + T.exp(c) * 2
    fgraph = rewritten([x], [small])
    assert ops(fgraph) == ["add"]
    big = T.constant(np.ones(200_000))
    kept = rewritten([x], [T.sum(T.exp(big)) + x])
    assert "exp" in ops(kept)  # 2e5 elements: left to run time
    check_equal([x], [small], [RNG.random(7)])


# --------------------------------------------------------------------------- no-ops


@pytest.mark.slow
def test_noops_are_removed():
    x = T.dvector("x")
    m = T.dmatrix("m")
    same_cast = Elemwise(cast_scalar_op("float64"))(x)
    outs = [x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1, x ** 1, T.neg(T.neg(x)), same_cast,
            T.ELEMENTWISE["identity"](x), T.ELEMENTWISE["second"](x, x)]
    fgraph = rewritten([x], outs)
    assert fgraph.toposort() == []
    assert all(v is fgraph.inputs[0] for v in fgraph.outputs)
    views = [m.dimshuffle(0, 1), m.T.T, Sum(())(m)]
    fgraph = rewritten([m], views)
    assert fgraph.toposort() == [] and all(v is fgraph.inputs[0] for v in fgraph.outputs)
    # Not a no-op: x * 1 where the 1 broadcasts x to a bigger shape, or changes its dtype.
    i = T.ivector("i")
    kept = rewritten([x, i], [x * np.ones((2, 1)), i * 1.5])
    assert ops(kept).count("mul") == 2
    check_equal([x], outs, [RNG.random(4)])
    check_equal([m], [m.T.T + 0, m.dimshuffle(1, "x", 0).dimshuffle(2, 0)],
                [RNG.random((2, 3))])


def test_dimshuffles_compose():
    m = T.dmatrix("m")
    out = m.T.dimshuffle("x", 0, 1).dimshuffle(2, 1, 0)
    fgraph = rewritten([m], [out])
    (node,) = fgraph.toposort()
    assert node.op == DimShuffle(2, (0, 1, "x"))
    check_equal([m], [out + 1], [RNG.random((2, 3))])


def test_second_keeps_broadcasting():
    x, v = T.dmatrix("x"), T.dvector("v")
    fill = T.ELEMENTWISE["second"]
    # second(x, v): v broadcast to x's shape cannot be dropped.
    assert "second" in ops(rewritten([x, v], [fill(x, v)]))
    assert "second" in ops(rewritten([x], [T.zeros_like(x)]))
    assert "second" not in ops(rewritten([x], [fill(T.constant(np.ones((1, 1))), x)]))


# --------------------------------------------------------------------------- canonicalize


def test_canonical_forms():
    x = T.dvector("x")
    cases = {"pow2": x ** 2, "sqrt": x ** 0.5, "recip": x ** -1, "div4": x / 4.0,
             "div3": x / 3.0, "logexp": T.log(T.exp(x))}
    fgraph = rewritten([x], list(cases.values()))
    nodes = {name: v.owner for name, v in zip(cases, fgraph.outputs)}
    assert scalar_name(nodes["pow2"]) == "mul"
    assert nodes["pow2"].inputs == [fgraph.inputs[0]] * 2
    assert scalar_name(nodes["sqrt"]) == "sqrt"
    assert scalar_name(nodes["recip"]) == "true_div"
    assert scalar_name(nodes["div4"]) == "mul"
    assert float(nodes["div4"].inputs[1].data.reshape(-1)[0]) == 0.25
    assert scalar_name(nodes["div3"]) == "true_div"  # 1/3 is not exact: kept
    assert fgraph.outputs[-1] is fgraph.inputs[0]
    check_equal([x], list(cases.values()), [RNG.random(6) + 0.5])


def test_constants_collect_and_sub_of_a_constant_becomes_add():
    x = T.dvector("x")
    cases = [(x + 1.0) + 2.0, 3.0 * (x * 2.0), (x - 1.0) + 4.0, T.exp(T.log(T.exp(x))),
             T.exp(T.log(x))]
    fgraph = rewritten([x], cases)
    first, second, third, exp_log, kept = (v.owner for v in fgraph.outputs)
    assert scalar_name(first) == "add" and first.inputs[1].data == 3.0
    assert scalar_name(second) == "mul" and second.inputs[1].data == 6.0
    assert scalar_name(third) == "add" and third.inputs[1].data == 3.0
    assert scalar_name(exp_log) == "exp"  # exp(log(y)) -> y where y = exp(x) >= 0
    assert scalar_name(kept) == "exp"     # x may be negative: exp(log(x)) is NaN there
    f = check_equal([x], cases, [RNG.random(6) + 0.5], rtol=1e-14)
    assert np.isnan(f(np.array([-1.0]))[4]).all()


@pytest.mark.slow
def test_log_sigmoid_and_its_gradient_stay_finite():
    x = T.dvector("x")
    y = T.log(nnet.sigmoid(x)).sum() + T.log(1 - nnet.sigmoid(x)).sum()
    g = cgraph.grad(y, x)
    fgraph = rewritten([x], [y, g])
    assert "softplus" in ops(fgraph) and "log" not in ops(fgraph)
    assert "true_div" not in ops(fgraph)  # the gradient's divisions by sigmoid cancelled
    f = cgraph.function([x], [y, g])
    value, grad = f(np.array([-800.0, 0.0, 800.0]))
    np.testing.assert_allclose(value, -1600.0 + 2 * np.log(0.5), rtol=1e-15)
    np.testing.assert_allclose(grad, [1.0, 0.0, -1.0], atol=1e-15)
    point = RNG.normal(size=5)
    cgraph.verify_grad(lambda v: (T.log(nnet.sigmoid(v)) + T.log(1 - nnet.sigmoid(v))).sum(),
                       [point])


@pytest.mark.slow
def test_softmax_cross_entropy_is_stable_with_gradient_softmax_minus_onehot():
    x, t = T.dmatrix("x"), T.dmatrix("t")
    loss = nnet.categorical_crossentropy(nnet.softmax(x), t).sum()
    g = cgraph.grad(loss, x)
    f = cgraph.function([x, t], [loss, g])
    logits = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0], [-1000.0, 1000.0, 0.0]])
    labels = np.eye(3)[[1, 2, 0]]
    value, grad = f(logits, labels)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, -(labels * log_p).sum(), rtol=1e-14)
    np.testing.assert_allclose(grad, np.exp(log_p) - labels, atol=1e-15)
    names = ops(rewritten([x, t], [loss, g]))
    assert "logsumexp" in names or names.count("log") == 1  # log(softmax) is log_softmax
    with cgraph.config.change_flags(optimizer="None"):
        raw = cgraph.function([x, t], [loss, g])
    assert not np.isfinite(raw(logits, labels)[1]).all()  # what the rewrites fixed
    cgraph.verify_grad(lambda v: nnet.categorical_crossentropy(
        nnet.softmax(v), np.eye(3)[[0, 2]]).sum(), [RNG.normal(size=(2, 3))])


def test_log_sum_exp_subtracts_the_maximum():
    x = T.dmatrix("x")
    outs = [T.log(T.sum(T.exp(x), axis=1)), T.log(T.sum(T.exp(x), axis=0, keepdims=True))]
    fgraph = rewritten([x], outs)
    assert any(isinstance(n.op, MaxMin) for n in fgraph.toposort())
    f = cgraph.function([x], outs)
    big = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    rows, cols = f(big)
    np.testing.assert_allclose(rows, [1000 + np.log(2), 0.0], rtol=1e-15)
    np.testing.assert_allclose(cols, [[1000.0, 1000.0]], rtol=1e-15)
    check_equal([x], outs, [RNG.normal(size=(3, 4))], rtol=1e-14)


def test_stabilize_when_the_target_ops_exist():
    x = T.dvector("x")
    outs = [T.log(1 + x), T.exp(x) - 1]
    present = [name for name in ("log1p", "expm1") if name in T.ELEMENTWISE]
    if not present:
        pytest.skip("log1p/expm1 are not in the op library yet")
    fgraph = rewritten([x], outs)
    names = ops(fgraph)
    for name in present:
        assert name in names
    f = check_equal([x], outs, [RNG.random(5)])
    tiny = f(np.array([1e-10]))
    if "log1p" in present:
        np.testing.assert_allclose(tiny[0], np.log1p(1e-10), rtol=1e-15)


def test_mode_c_rewrites_and_mode_py_runs_the_graph_as_built():
    """Mode "PY" is the oracle of the rewrites: it never sees them."""
    x = T.dvector("x")
    out = (x * 1 + 0) ** 2
    f = cgraph.function([x], out, mode="C")
    assert "pow" not in ops(f.fgraph) and f.rewrites
    np.testing.assert_allclose(f(np.array([3.0])), [9.0])
    ref = cgraph.function([x], out, mode="PY")
    assert [n for n in ops(ref.fgraph) if n != "DimShuffle"] == ["mul", "add", "pow"]
    assert ref.rewrites == {}
    np.testing.assert_allclose(ref(np.array([3.0])), [9.0])
    fused = cgraph.function([x], T.exp(x) * 2 + 1, mode="C")
    assert [type(n.op) for n in fused.fgraph.toposort()] == [FusedElemwise]
    plain = cgraph.function([x], T.exp(x) * 2 + 1, mode="PY")
    assert FusedElemwise not in [type(n.op) for n in plain.fgraph.toposort()]


def test_shape_noops_use_proven_equal_lengths():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    h = T.tanh(T.dot(x, w))
    cost = T.sum(h * h)
    g = cgraph.grad(cost, w)
    fgraph = rewritten([x, w], [g])
    # tanh's and mul's gradients are summed back to their inputs' shapes: every such
    # SumTo is a copy here, as both sides come from the same Dot.
    assert "SumTo" not in ops(fgraph)
    b = T.dvector("b")
    hb = T.tanh(T.dot(x, w) + b)   # b broadcasts over the rows: its SumTo (a sum) stays
    gb = cgraph.grad(T.sum(hb), [w, b])
    assert "SumTo" in ops(rewritten([x, w, b], gb))
    args = [RNG.random((3, 4)), RNG.random((4, 2)), RNG.random(2)]
    f = check_equal([x, w, b], gb, args)
    # b's own axis does not broadcast (Theano's rule): a b of length 1 is an error
    with pytest.raises(ValueError, match="length 1 on axis 1"):
        f(args[0], args[1], RNG.random(1))


def test_workspace_buffers_are_reused_once_dead():
    from cgraph.codegen import make_plan

    x = T.dvector("x")
    out = T.cos(T.sin(T.exp(T.tanh(x))))   # 3 intermediates, then the output
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], [out, x * 2])
    plan = make_plan(f._lowered, ((1000,),))
    # Each elementwise result is written over its dead input: one buffer for the chain.
    assert plan.workspace == 8000
    v = RNG.random(1000)
    np.testing.assert_allclose(f(v)[0], np.cos(np.sin(np.exp(np.tanh(v)))), rtol=1e-14)
    # A view keeps its base alive: the transposed product is read after m*m is made.
    m = T.dmatrix("m")
    g = T.exp(m).T + T.sin(m) * 2
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        h = cgraph.function([m], g)
    a = RNG.random((4, 4))
    np.testing.assert_allclose(h(a), np.exp(a).T + np.sin(a) * 2, rtol=1e-14)


@pytest.mark.slow
def test_elementwise_results_overwrite_dead_inputs_only_when_safe():
    from cgraph.codegen import make_plan

    m = T.dmatrix("m")
    e = T.exp(m)
    cases = [T.sin(e) * 2,                # sin's result may take exp's buffer
             T.sin(e) + e.T,              # e is read transposed: no take-over
             T.cast(T.exp(m), "float32") * 2,  # other dtype: no take-over
             T.sin(T.exp(m)[:, None, :]).sum()]
    a = RNG.random((5, 5))
    wants = [np.sin(np.exp(a)) * 2, np.sin(np.exp(a)) + np.exp(a).T,
             np.exp(a).astype("float32") * 2, np.sin(np.exp(a)).sum()]
    sizes = []
    for out, want in zip(cases, wants):
        with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
            f = cgraph.function([m], [out, m + 1])
        sizes.append(make_plan(f._lowered, ((5, 5),)).workspace)
        np.testing.assert_allclose(f(a)[0], want, rtol=1e-6 if want.dtype == "float32"
                                   else 1e-14)
    block = -(-200 // 64) * 64
    assert sizes[0] == block           # exp and sin share one buffer (then mul)
    assert sizes[1] == 2 * block       # exp kept alive beside sin: two
    assert sizes[2] == block + -(-100 // 64) * 64


def test_update_buffers_outlive_later_kernels():
    # The update of w is computed first (fused with the sum's argument), then several
    # intermediates are made and freed: none may overwrite it before it is copied.
    x = T.dvector("x")
    w = cgraph.shared(np.arange(4.0), name="w")
    chain = T.cos(T.sin(T.exp(T.tanh(x))))
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], T.sum(chain), updates=[(w, w * 2 + x)])
    v = RNG.random(4)
    np.testing.assert_allclose(f(v), np.sum(np.cos(np.sin(np.exp(np.tanh(v))))))
    np.testing.assert_allclose(w.get_value(), np.arange(4.0) * 2 + v)
