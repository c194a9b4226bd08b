"""The key of a graph as built (`cgraph.compile.graph_key`): whatever the rewrites and
the lowering read changes it; ids and the order variables were made in do not."""

from __future__ import annotations

import numpy as np
from helpers import import_test_module

import cgraph
import cgraph.tensor as T
from cgraph.compile.graph_key import graph_key, walk
from cgraph.graph.basic import graph_inputs, toposort

CFG = cgraph.config


def key_of(inputs, outputs, n_outputs=None, targets=(), cfg=CFG, optimizer="fast_run"):
    return graph_key(inputs, outputs, cfg, optimizer, False, None, n_outputs, targets)


def test_key_names_the_graph_as_built():
    """Names, constants' bytes, types and input positions enter the key; ids do not."""

    def key(build):
        x, y = T.dvector("x"), T.dvector("y")
        inputs, outputs = build(x, y)
        return key_of(inputs, outputs)

    def build(x, y):
        return [x, y], [T.exp(x) * 0.1 + y]

    base = key(build)
    assert base is not None
    assert key(build) == base  # new variables, same lines
    assert key(lambda x, y: build(x, y)) == base
    assert key(lambda x, y: ([x, y], [T.exp(x) * 0.1 + y])) != base  # built on other lines
    assert key(lambda x, y: ([x, y], [T.exp(x) * 0.05 + y])) != base  # constant value
    assert key(lambda x, y: ([y, x], [T.exp(x) * 0.1 + y])) != base  # input positions
    assert key(lambda x, y: ([x, y], [T.exp(y) * 0.1 + x])) != base

    def named(x, y):
        out = T.exp(x) * 0.1 + y
        out.name = "loss"  # names reach the C's comments
        return [x, y], [out]

    assert key(named) != base
    f32 = key(lambda x, y: ([x, y], [T.exp(x) * np.float32(0.1) + y]))
    assert f32 != base  # the constant's dtype
    assert key_of([], [T.dvector("free") * 2]) is None


def test_types_broadcast_patterns_and_flags_change_the_key():
    def key(x, **kw):
        return key_of([x], [T.exp(x) * 2.0], **kw)

    base = key(T.dmatrix("x"))
    assert key(T.dmatrix("x")) == base
    assert key(T.fmatrix("x")) != base  # a dtype
    assert key(T.TensorType("float64", (None, 1))("x")) != base  # a broadcast pattern
    assert key(T.TensorType("float64", (3, None))("x")) != base  # a static length
    assert key(T.dmatrix("x"), optimizer="fast_compile") != base
    with CFG.change_flags(cflags=CFG.cflags + " -DCG_TEST_FLAG=1"):
        assert key(T.dmatrix("x")) != base  # any setting
    assert key(T.dmatrix("x")) == base


def test_which_outputs_are_updates_and_of_what_change_the_key():
    a = cgraph.shared(np.ones(2), name="a")
    b = cgraph.shared(np.ones(2), name="b")
    s, u, v = T.sum(a), a + b, a - b
    inputs, outputs = [a, b], [s, u, v]
    base = key_of(inputs, outputs, 1, [a, b])
    assert key_of(inputs, outputs, 1, [a, b]) == base
    assert key_of(inputs, outputs, 1, [b, a]) != base  # the new values change places
    assert key_of(inputs, outputs, 2, [b]) != base  # u is an output, not an update
    assert key_of(inputs, outputs) != base  # no updates


def test_walk_gives_toposort_and_graph_inputs_and_the_same_key():
    """`function`'s one traversal (`walk`) gives what `toposort` and `graph_inputs`
    give, and the key made from its nodes is the key made without."""
    x, y = T.dvector("x"), T.dvector("y")
    w = cgraph.shared(np.ones(3), name="w")
    outputs = [T.exp(x) * 2.0 + y, T.sum(w * x), w, T.constant(np.zeros(2))]
    walked = walk(outputs)
    assert [id(n) for n in walked.nodes] == [id(n) for n in toposort(outputs)]
    assert [id(v) for v in walked.leaves] == [id(v) for v in graph_inputs(outputs)]
    key = key_of([x, y, w], outputs)
    assert key is not None
    assert graph_key([x, y, w], outputs, CFG, "fast_run", False, walked) == key
    assert graph_key([x, y, w], outputs, CFG, "fast_run", False, walked) == key
    other = [T.exp(x) * 3.0 + y, *outputs[1:]]
    assert key_of([x, y, w], other) != key


def test_shared_ops_and_separate_equal_ops_give_one_key_per_build():
    """Ops are numbered by object: a graph that reuses an op object and one that makes
    equal ops each build to their own, stable key."""

    def build(share):
        x = T.dvector("x")
        op = T.exp(x).owner.op
        first = op(x)
        second = op(first) if share else T.exp(first)
        return key_of([x], [second])

    assert build(True) == build(True)
    assert build(False) == build(False)


def test_walk_on_random_graphs_is_toposort():
    random_graph = import_test_module("test_toposort_order").random_graph
    rng = np.random.default_rng(1)
    for size in (1, 10, 100):
        pool = random_graph(rng, size)
        outputs = [pool[i] for i in rng.integers(0, len(pool), 3)]
        walked = walk(outputs)
        assert [id(n) for n in walked.nodes] == [id(n) for n in toposort(outputs)]
        assert [id(v) for v in walked.leaves] == [id(v) for v in graph_inputs(outputs)]
        assert key_of(list(walked.leaves), outputs) is not None
