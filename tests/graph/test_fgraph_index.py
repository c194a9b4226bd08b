"""The FunctionGraph reader index and the cost of rewriting large graphs.

The index is kept up to date by `replace`; these tests compare it with one rebuilt
from scratch after every pass, and pin that the rewrites of a long chain neither
re-sort the graph per replacement nor lose their results."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph import basic
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.pipeline import PASSES


def chain(n: int, kind: str) -> FunctionGraph:
    """A chain of n layers with the gradient of its cost (forward and backward)."""
    x, w = T.dvector("x"), T.dmatrix("w")
    y = x
    for _ in range(n):
        y = T.exp(y) + x if kind == "exp" else T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2)
    return FunctionGraph([x, w], [cost, cgraph.grad(cost, x if kind == "exp" else w)])


def index_of(clients: dict) -> dict:
    return {k: sorted((id(n), i) for n, i in v) for k, v in clients.items() if v}


def rebuilt(fgraph: FunctionGraph) -> dict:
    fgraph.changed()
    return index_of(fgraph.clients())


@pytest.mark.parametrize("kind", ["exp", "dot"])
def test_index_equals_a_rebuilt_one_after_every_pass(kind):
    fgraph = chain(12, kind)
    fgraph.clients()
    for name, run in PASSES:
        run(fgraph)
        kept = index_of(fgraph.clients())
        assert kept == rebuilt(fgraph), name
        # every reader in the index is a node of the graph, reading that variable
        nodes = {id(n) for n in fgraph.toposort()}
        for readers in fgraph.clients().values():
            for node, _ in readers:
                assert id(node) in nodes


def test_replace_imports_the_new_nodes_and_drops_the_unread_ones():
    x = T.dvector("x")
    fgraph = FunctionGraph([x], [T.exp(x) * 2.0])
    (out,) = fgraph.outputs
    old_exp = out.owner.inputs[0]
    xi = fgraph.inputs[0]
    new = T.log(xi) + 1.0
    fgraph.replace(old_exp, new)
    index = fgraph.clients()
    assert id(old_exp) not in index            # nothing reads the exp any more
    assert old_exp.owner.inputs[0] is xi
    assert [n.op for n, _ in index[id(xi)]] == [new.owner.inputs[0].owner.op]  # log only
    assert index_of(index) == rebuilt(fgraph)


def test_replace_refuses_a_variable_from_outside():
    x, z = T.dvector("x"), T.dvector("z")
    fgraph = FunctionGraph([x], [T.exp(x)])
    with pytest.raises(ValueError, match="neither an input"):
        fgraph.replace(fgraph.outputs[0], T.exp(z))


def sorts_while_rewriting(n: int, kind: str) -> tuple[int, int, int]:
    """(toposorts, nodes before, nodes after) for all passes over chain(n)."""
    fgraph = chain(n, kind)
    before = len(fgraph.toposort())
    calls = [0]
    real = basic.toposort

    def counting(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    from cgraph.graph import fg as fg_module
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fg_module, "toposort", counting)
        for _, run in PASSES:
            run(fgraph)
    return calls[0], before, len(fgraph.toposort())


@pytest.mark.parametrize("kind", ["exp", "dot"])
def test_rewrites_of_a_long_chain_do_not_sort_per_replacement(kind):
    """The graph is sorted once per sweep and pass, so a chain 8x longer (hundreds of
    replacements more) sorts about as often; the node counts are pinned."""
    small, _, _ = sorts_while_rewriting(25, kind)
    large, before, after = sorts_while_rewriting(200, kind)
    assert large <= small + 10
    if kind == "exp":  # the forward and backward chain fuses into loops of at most
        # MAX_FUSED_OPS (64) ops: 14 nodes, not one 1,000-statement loop
        assert (before, after) == (1011, 14)
    else:  # per layer: the two products and one fused loop each way, plus the ends
        # (gradients of same-shape operations hold no SumTo: Theano's broadcasting rule;
        # the outer products the weight's gradient sums stay products)
        assert (before, after) == (3007, 1400)


@pytest.mark.slow
def test_large_chain_still_computes_the_same():
    """The rewritten 200-layer chain against the numpy reference mode."""
    x = T.dvector("x")
    y = x
    for _ in range(200):
        y = T.tanh(y) * 0.9 + x * 0.1
    cost = T.sum(y ** 2)
    f = cgraph.function([x], [cost, cgraph.grad(cost, x)])
    g = cgraph.function([x], [cost, cgraph.grad(cost, x)], mode="PY")
    v = np.linspace(-1, 1, 7)
    for got, want in zip(f(v), g(v)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
