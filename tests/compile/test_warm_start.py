"""Warm starts skip the rewrites, the lowering and the planning: a record per graph as
built (`cgraph.compile.warm`), checked before it is trusted; its graph is rebuilt only
when something needs it, and the plans of call shapes are kept beside it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import run_json_child

import cgraph
import cgraph.tensor as T
from cgraph.backend import records as records_module
from cgraph.compile import warm
from cgraph.compile.graph_key import graph_key
from cgraph.scan import scan

# A residual chain's training step; counts the rewrite, lowering, planning and graph
# rebuilding runs, and reports the results of three calls bitwise (hex floats) with
# what the backend did.
CHILD = textwrap.dedent("""
    import importlib, json, sys
    import numpy as np
    import cgraph, cgraph.tensor as T
    from cgraph import backend
    fm = importlib.import_module("cgraph.compile.function")
    cm = importlib.import_module("cgraph.compile.compiled")
    wm = importlib.import_module("cgraph.compile.warm")
    rm = importlib.import_module("cgraph.backend.records")
    runs = {"rewrite": 0, "lower": 0, "plan": 0, "rebuild": 0}
    def counted(name, run):
        def wrapper(*args, **kwargs):
            runs[name] += 1
            return run(*args, **kwargs)
        return wrapper
    fm.rewrite_graph = counted("rewrite", fm.rewrite_graph)
    cm.lower = counted("lower", cm.lower)
    cm.plan_shapes = counted("plan", cm.plan_shapes)
    wm._load_graph = counted("rebuild", wm._load_graph)
    files = {}
    def logged(name, payload, options, root):
        files[name.split(chr(0))[0] if chr(0) in name else "front"] = str(
            rm._path(name, options, root))
        return rm.write_record(name, payload, options, root)
    wm.write_record = logged
    LAYERS, LR = 4, 0.1
    x = T.dvector("x")
    w = cgraph.shared(np.eye(4) * 0.5 + 0.01 * np.arange(16).reshape(4, 4), name="W")
    y = x
    for _ in range(LAYERS):
        y = T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2)
    f = cgraph.function([x], cost, updates=[(w, w - LR * cgraph.grad(cost, w))])
    values = [float(f(np.linspace(-1, 1, 4) * k)).hex() for k in (1, 2, 3)]
    calls = dict(runs)
    source = f.c_source
    print(json.dumps({"runs": calls, "compiles": backend.stats.compiles, "values": values,
                      "w": [v.hex() for v in w.get_value().ravel().tolist()],
                      "rewrites": {k: dict(v) for k, v in f.rewrites.items()},
                      "source": source, "for_source": runs, "files": files,
                      "nodes": len(f.fgraph.toposort())}))
""")


def records(cache: Path) -> list[Path]:
    return [p for p in (cache / "records").glob("*/*") if not p.name.startswith(".")]


def spoil(path: str, cut: int = 0) -> None:
    """Flip the last bytes of a record (it fails its digest), or cut them off."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:-cut] if cut else data[:-7] + bytes(b ^ 0xFF for b in data[-7:]))


@pytest.mark.slow
def test_new_process_skips_rewrites_lowering_and_planning_with_same_results(tmp_path):
    first = run_json_child(CHILD, tmp_path)
    second = run_json_child(CHILD, tmp_path)
    assert first["runs"] == {"rewrite": 1, "lower": 1, "plan": 1, "rebuild": 0}
    assert first["compiles"] >= 1 and set(first["files"]) == {"front", "graph", "plans"}
    # the calls need neither the graph nor a plan; c_source rebuilds the graph
    assert second["runs"] == {"rewrite": 0, "lower": 0, "plan": 0, "rebuild": 0}
    assert second["for_source"] == {"rewrite": 0, "lower": 0, "plan": 0, "rebuild": 1}
    assert second["compiles"] == 0 and second["files"] == {}
    assert second["rewrites"] == first["rewrites"] and first["rewrites"]
    assert second["values"] == first["values"] and second["w"] == first["w"]
    assert second["source"] == first["source"]  # names and lines in its comments too
    assert second["nodes"] == first["nodes"]
    assert len(records(tmp_path)) == 3


@pytest.mark.slow
def test_corrupt_or_foreign_records_are_made_again(tmp_path):
    first = run_json_child(CHILD, tmp_path)
    files = first["files"]
    good = {kind: Path(path).read_bytes() for kind, path in files.items()}

    def run_again() -> dict:
        again = run_json_child(CHILD, tmp_path)
        assert again["values"] == first["values"] and again["w"] == first["w"]
        return again

    spoil(files["front"])  # a miss: rewritten, lowered, planned and recorded again
    again = run_again()
    assert again["runs"] == {"rewrite": 1, "lower": 1, "plan": 1, "rebuild": 0}
    assert again["compiles"] == 0 and set(again["files"]) == {"front", "graph", "plans"}
    assert Path(files["front"]).read_bytes() == good["front"]

    spoil(files["graph"])  # a hit; c_source rewrites and lowers the graph as built again
    again = run_again()
    assert again["runs"] == {"rewrite": 0, "lower": 0, "plan": 0, "rebuild": 0}
    assert again["for_source"] == {"rewrite": 1, "lower": 1, "plan": 0, "rebuild": 0}
    assert again["source"] == first["source"] and again["nodes"] == first["nodes"]
    assert set(again["files"]) == {"front", "graph"}  # recorded again

    spoil(files["plans"], cut=3)  # a hit without plans: the call plans its shape
    again = run_again()
    assert again["runs"] == {"rewrite": 0, "lower": 0, "plan": 1, "rebuild": 1}
    assert set(again["files"]) == {"plans"}


def chain(lr: float = 0.1):
    x = T.dvector("x")
    return x, T.exp(x) * lr + x


def test_record_is_checked_against_the_callers_graph(tmp_path):
    """A record read under another graph's key (inputs of another type, other outputs)
    reads as a miss, and so does garbage."""
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        x, y = chain()
        f = cgraph.function([x], y)
        key = graph_key([x], [y], cgraph.config, "fast_run", False)
        assert warm.restore(key, [x], [y], cgraph.config) is not None
        assert warm.restore(key, [T.dmatrix("m")], [y], cgraph.config) is None
        assert warm.restore(key, [T.fvector("v")], [y], cgraph.config) is None
        assert warm.restore(key, [x], [y, x], cgraph.config) is None  # outputs differ
        assert warm.restore(key, [x], [T.sum(y)], cgraph.config) is None  # a rank differs
        root = cgraph.backend.cache_dir(str(tmp_path))
        warm.write_record(key, b"not a pickle", warm._options(cgraph.config), root)
        assert warm.restore(key, [x], [y], cgraph.config) is None
        again = cgraph.function([x], y)  # a miss: rewritten, lowered and recorded again
        np.testing.assert_array_equal(again(np.ones(3)), f(np.ones(3)))
        assert warm.restore(key, [x], [y], cgraph.config) is not None


def test_constant_change_is_a_new_record_with_right_numbers(tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        data = np.linspace(-2, 2, 7)
        for lr in (0.1, 0.05, 0.1):
            x, y = chain(lr)
            f = cgraph.function([x], y)
            np.testing.assert_array_equal(f(data), np.exp(data) * lr + data)


def swapped(order: int):
    """Two updates of two shared variables of one type, built on the same lines; the
    order says which variable gets which new value."""
    a = cgraph.shared(np.array([1.0, 2.0]), name="a")
    b = cgraph.shared(np.array([10.0, 20.0]), name="b")
    s, u, v = T.sum(a), a + b, a - b
    return a, b, cgraph.function([], s, updates=[(a, u), (b, v)] if order else [(b, u), (a, v)])


def test_an_update_of_another_variable_is_another_record(tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        for order in (1, 0, 1, 0):
            a, b, f = swapped(order)
            f()
            new_a, new_b = ([11.0, 22.0], [-9.0, -18.0]) if order else ([-9.0, -18.0],
                                                                        [11.0, 22.0])
            np.testing.assert_array_equal(a.get_value(), new_a)
            np.testing.assert_array_equal(b.get_value(), new_b)


def test_a_hit_calls_planned_shapes_without_the_graph(tmp_path):
    """The first function plans its call shapes and records them; the second (a hit)
    calls those shapes with the recorded plans, rebuilding its graph only for a new
    shape, and gives the same numbers."""
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        data = [np.linspace(-1, 1, n) for n in (3, 5)]
        x, y = chain()
        first = cgraph.function([x], y)
        want = [first(d) for d in data]
        x, y = chain()
        second = cgraph.function([x], y)
        assert second.compiled._fgraph is None  # a hit: the graph is not rebuilt
        assert set(second.compiled.plans) == {((3,),), ((5,),)}
        for d, w in zip(data, want):
            np.testing.assert_array_equal(second(d), w)
        assert second.compiled._fgraph is None
        np.testing.assert_array_equal(second(np.ones(7)), np.exp(1.0) * 0.1 + np.ones(7))
        assert second.compiled._fgraph is not None  # a new shape: planned on the graph
        assert [v.type for v in second.fgraph.inputs] == [x.type]
        assert second.c_source == first.c_source


def test_plans_are_kept_at_most_max_plans(tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        x, y = chain()
        f = cgraph.function([x], y)
        for n in range(1, warm.MAX_PLANS + 4):
            f(np.ones(n))
        assert len(f.compiled.record.plans) == warm.MAX_PLANS
        x, y = chain()
        g = cgraph.function([x], y)
        assert len(g.compiled.plans) == warm.MAX_PLANS
        for n in range(1, warm.MAX_PLANS + 4):
            np.testing.assert_array_equal(g(np.full(n, 0.5)), np.exp(0.5) * 0.1 + 0.5)


def state_prefix():
    """A loop over a prefix whose length is a state starting at a constant: its plan
    holds the scan callback's address (`cgraph.scan.dynamic`)."""
    x = T.dvector("x")
    (_, sums), _ = scan(lambda k, v: [T.minimum(k + 1, 4), (v[:k] ** 2).sum()],
                        outputs_info=[T.constant(np.int64(1)), None], non_sequences=x,
                        n_steps=5)
    return x, sums


def test_plans_with_a_scan_callback_address_are_never_kept(tmp_path):
    data = np.linspace(-1, 2, 6)
    want = [(data[:k] ** 2).sum() for k in (1, 2, 3, 4, 4)]
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        for _ in range(2):
            x, sums = state_prefix()
            f = cgraph.function([x], sums)
            assert not f.compiled.plans  # nothing planned before the call
            np.testing.assert_allclose(f(data), want, rtol=1e-14)
            assert f.compiled.record is not None and not f.compiled.record.plans


def test_a_lost_graph_record_is_made_again_from_the_graph_as_built(tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        x, y = chain()
        first = cgraph.function([x], y)
        x, y = chain()
        key = graph_key([x], [y], cgraph.config, cgraph.config.optimizer, False)
        root = cgraph.backend.cache_dir(str(tmp_path))
        lost = records_module._path(warm._graph_name(key), warm._options(cgraph.config), root)
        lost.unlink()
        second = cgraph.function([x], y)
        data = np.linspace(-1, 1, 5)
        np.testing.assert_array_equal(second(data), np.exp(data) * 0.1 + data)
        assert second.c_source == first.c_source
