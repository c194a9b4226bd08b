"""Fusion's reachability in windows of consecutive positions (rewrite/fusion.py,
`_Graph.WINDOW`): with tiny windows, groups stop at window edges but every fused graph
is still acyclic and computes what the unrewritten graph computes; with the default
window, a 2,000-node graph fuses as before."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import reference

import cgraph
import cgraph.tensor as T
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite import fusion
from cgraph.tensor.elemwise import FusedElemwise


def branchy(x, y, layers: int):
    """Elementwise work with side branches that rejoin (the convexity test's cases)."""
    h = x
    for i in range(layers):
        side = T.exp(-h * h) * y
        h = T.tanh(h + side) + (side if i % 2 else T.sin(h))
    return h.sum() + (h * y).sum()


@pytest.mark.parametrize("window", [8, 16, 4096])
def test_small_windows_fuse_less_but_compute_the_same(monkeypatch, window):
    monkeypatch.setattr(fusion._Graph, "WINDOW", window)
    x, y = T.dvector("x"), T.dvector("y")
    cost = branchy(x, y, 12)
    outputs = [cost, *cgraph.grad(cost, [x, y])]
    f = cgraph.function([x, y], outputs, mode="C")
    rng = np.random.default_rng(5)
    xv, yv = rng.standard_normal(7), rng.standard_normal(7)
    for got, want in zip(f(xv, yv), reference([x, y], outputs)(xv, yv)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    fused = [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)]
    assert fused  # still fuses within windows


def test_window_edges_cost_few_extra_kernels(monkeypatch):
    x, y = T.dvector("x"), T.dvector("y")
    cost = branchy(x, y, 12)
    graph_inputs, outputs = [x, y], [cost, *cgraph.grad(cost, [x, y])]

    def kernels(window):
        monkeypatch.setattr(fusion._Graph, "WINDOW", window)
        fgraph = FunctionGraph(graph_inputs, outputs)
        fusion.fuse_elementwise(fgraph)
        return len(fgraph.toposort())

    whole, cut = kernels(4096), kernels(32)
    assert whole <= cut <= 2 * whole


def test_matrices_grow_with_the_window_not_the_graph(monkeypatch):
    monkeypatch.setattr(fusion._Graph, "WINDOW", 64)
    x = T.dvector("x")
    y = x
    for _ in range(100):
        y = T.exp(y) * 0.5 + x
    fgraph = FunctionGraph([x], [y.sum(), cgraph.grad(y.sum(), x)])
    graph = fusion._Graph(fgraph)
    n = len(graph.nodes)
    assert n > 10 * 64
    assert graph.desc.shape == graph.anc.shape == (n, 64 // 8)
