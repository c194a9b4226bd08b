"""`toposort`'s order is the depth-first post-order over inputs left to right (what the
warm-start key and the C's node order rely on), with `stop` variables as leaves."""

from __future__ import annotations

import numpy as np

import cgraph.tensor as T
from cgraph.graph.basic import Apply, Variable, toposort


def reference(outputs: list[Variable], stop: list[Variable]) -> list[Apply]:
    """The post-order, written recursively."""
    stop_ids = {id(v) for v in stop}
    order: list[Apply] = []
    seen: set[int] = set()

    def visit(v: Variable) -> None:
        node = v.owner
        if node is None or id(v) in stop_ids or id(node) in seen:
            return
        seen.add(id(node))
        for inp in node.inputs:
            visit(inp)
        order.append(node)

    for v in outputs:
        visit(v)
    return order


def random_graph(rng: np.random.Generator, size: int) -> list[Variable]:
    """Variables of a random DAG over two inputs (each node reads earlier variables)."""
    pool: list[Variable] = [T.dvector("x"), T.dvector("y")]
    for _ in range(size):
        a, b, c = (pool[i] for i in rng.integers(0, len(pool), 3))
        pool.append([T.exp(a), a + b, T.maximum(a, b) * c, T.sum(a) + b][rng.integers(0, 4)])
    return pool


def test_order_is_the_recursive_post_order():
    rng = np.random.default_rng(0)
    for size in (1, 5, 40, 200):
        pool = random_graph(rng, size)
        outputs = [pool[i] for i in rng.integers(0, len(pool), 4)]
        stop = [pool[i] for i in rng.integers(0, len(pool), 3)]
        for cut in ([], stop):
            got = toposort(outputs, cut)
            assert [id(n) for n in got] == [id(n) for n in reference(outputs, cut)]
