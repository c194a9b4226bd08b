"""Warm starts skip the rewrites and the lowering: a record per graph as built
(`cgraph.compile.warm`), checked before it is trusted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import run_json_child

import cgraph
import cgraph.tensor as T
from cgraph.compile import warm
from cgraph.graph.basic import graph_inputs, toposort

# A residual chain's training step; counts the rewrite and lowering runs, and reports
# the results of three calls bitwise (hex floats) with what the backend did.
CHILD = textwrap.dedent("""
    import importlib, json, sys
    import numpy as np
    import cgraph, cgraph.tensor as T
    from cgraph import backend
    fm = importlib.import_module("cgraph.compile.function")
    cm = importlib.import_module("cgraph.compile.compiled")
    runs = {"rewrite": 0, "lower": 0}
    def counted(name, run):
        def wrapper(*args, **kwargs):
            runs[name] += 1
            return run(*args, **kwargs)
        return wrapper
    fm.rewrite_graph = counted("rewrite", fm.rewrite_graph)
    cm.lower = counted("lower", cm.lower)
    LAYERS, LR = 4, 0.1
    x = T.dvector("x")
    w = cgraph.shared(np.eye(4) * 0.5 + 0.01 * np.arange(16).reshape(4, 4), name="W")
    y = x
    for _ in range(LAYERS):
        y = T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2)
    f = cgraph.function([x], cost, updates=[(w, w - LR * cgraph.grad(cost, w))])
    values = [float(f(np.linspace(-1, 1, 4) * k)).hex() for k in (1, 2, 3)]
    print(json.dumps({"runs": runs, "compiles": backend.stats.compiles, "values": values,
                      "w": [v.hex() for v in w.get_value().ravel().tolist()],
                      "rewrites": {k: dict(v) for k, v in f.rewrites.items()},
                      "source": f.c_source}))
""")


def records(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "records").glob("*/*") if not p.name.startswith("."))


@pytest.mark.slow
def test_new_process_skips_rewrites_and_lowering_with_same_results(tmp_path):
    first = run_json_child(CHILD, tmp_path)
    second = run_json_child(CHILD, tmp_path)
    assert first["runs"] == {"rewrite": 1, "lower": 1} and first["compiles"] >= 1
    assert second["runs"] == {"rewrite": 0, "lower": 0} and second["compiles"] == 0
    assert second["rewrites"] == first["rewrites"] and first["rewrites"]
    assert second["values"] == first["values"] and second["w"] == first["w"]
    assert second["source"] == first["source"]  # names and lines in its comments too
    assert len(records(tmp_path)) == 1


@pytest.mark.slow
def test_corrupt_or_foreign_record_is_rebuilt(tmp_path):
    first = run_json_child(CHILD, tmp_path)
    (path,) = records(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good[:-7] + bytes(b ^ 0xFF for b in good[-7:]))  # fails its digest
    again = run_json_child(CHILD, tmp_path)
    assert again["runs"] == {"rewrite": 1, "lower": 1} and again["compiles"] == 0
    assert again["values"] == first["values"] and again["w"] == first["w"]
    assert len(records(tmp_path)) == 1  # written again
    assert records(tmp_path)[0].read_bytes() == good


def test_record_is_checked_against_the_callers_graph(tmp_path):
    """A record is rebuilt on the caller's inputs: another graph's record under this
    graph's key (inputs of another type) reads as a miss, and so does garbage."""
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        x = T.dvector("x")
        f = cgraph.function([x], T.exp(x) * 3.0)
        m = T.dmatrix("m")
        payload = warm._dump(f.fgraph, f.compiled.prepared, f.rewrites)
        assert payload is not None
        assert warm._load(payload, [x], [T.exp(x) * 3.0]) is not None
        assert warm._load(payload, [m], [T.exp(m) * 3.0]) is None  # input type differs
        assert warm._load(payload, [x], [T.exp(x), x]) is None  # outputs differ
        key = warm.graph_key([m], [T.exp(m) * 3.0], cgraph.config, "fast_run", False)
        root = cgraph.backend.cache_dir(str(tmp_path))
        options = warm._options(cgraph.config)
        warm.write_record(key, payload, options, root)
        assert warm.restore(key, [m], [T.exp(m) * 3.0], cgraph.config) is None
        warm.write_record(key, b"not a pickle", options, root)
        assert warm.restore(key, [m], [T.exp(m) * 3.0], cgraph.config) is None


def test_key_names_the_graph_as_built():
    """Names, constants' bytes, types and input positions enter the key; ids do not."""
    cfg = cgraph.config

    def key(build):
        x, y = T.dvector("x"), T.dvector("y")
        inputs, outputs = build(x, y)
        return warm.graph_key(inputs, outputs, cfg, "fast_run", False)

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
    assert warm.graph_key([], [T.dvector("free") * 2], cfg, "fast_run", False) is None


def test_constant_change_is_a_new_record_with_right_numbers(tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        x = T.dvector("x")
        data = np.linspace(-2, 2, 7)
        for lr in (0.1, 0.05, 0.1):
            f = cgraph.function([x], T.exp(x) * lr + x)
            np.testing.assert_array_equal(f(data), np.exp(data) * lr + data)


def test_walk_gives_toposort_and_graph_inputs_and_the_same_key():
    """`function`'s one traversal (`warm.walk`) gives what `toposort` and
    `graph_inputs` give, and the key made from its nodes is the key made without."""
    x, y = T.dvector("x"), T.dvector("y")
    w = cgraph.shared(np.ones(3), name="w")
    outputs = [T.exp(x) * 2.0 + y, T.sum(w * x), w, T.constant(np.zeros(2))]
    nodes, leaves = warm.walk(outputs)
    assert [id(n) for n in nodes] == [id(n) for n in toposort(outputs)]
    assert [id(v) for v in leaves] == [id(v) for v in graph_inputs(outputs)]
    key = warm.graph_key([x, y, w], outputs, cgraph.config, "fast_run", False)
    assert key is not None
    assert warm.graph_key([x, y, w], outputs, cgraph.config, "fast_run", False, nodes) == key
    other = [T.exp(x) * 3.0 + y, *outputs[1:]]
    assert warm.graph_key([x, y, w], other, cgraph.config, "fast_run", False) != key
