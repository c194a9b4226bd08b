"""Deep graphs pickle without hitting Python's recursion limit: a compiled Function, a
FunctionGraph and a bare Variable graph, and they compute the same numbers after."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph import basic, copying
from cgraph.graph.basic import toposort
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import Interpreter


def residual_chain(n: int, seed: int = 0):
    """y = tanh(dot(W, y)) + y, n times, from the vector x."""
    rng = np.random.default_rng(seed)
    w = cgraph.shared(rng.standard_normal((6, 6)) * 0.2, name="W")
    x = T.dvector("x")
    y = x
    for _ in range(n):
        y = T.tanh(T.dot(w, y)) + y
    return x, y, w


def numpy_chain(w: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    y = x
    for _ in range(n):
        y = np.tanh(w @ y) + y
    return y


def test_deep_variable_graph_round_trip():
    x, y, w = residual_chain(400)
    z = y * 2
    loaded_y, loaded_z = pickle.loads(pickle.dumps([y, z]))
    # one graph: the nodes the two variables share stay shared
    assert loaded_z.owner.inputs[0] is loaded_y
    assert len(toposort([loaded_y])) == len(toposort([y]))
    assert not copying._covered and not copying._members  # nothing kept after the pickle
    leaf = [v for v in basic.graph_inputs([loaded_y]) if v.name == "x"][0]
    w_loaded = [v for v in basic.graph_inputs([loaded_y]) if v.name == "W"][0]
    xv = np.linspace(-1, 1, 6)
    got = Interpreter([leaf, w_loaded], [loaded_y]).run([xv, w.get_value()])[0]
    np.testing.assert_allclose(got, numpy_chain(w.get_value(), xv, 400), rtol=1e-12)


def test_deep_function_graph_round_trip():
    x, y, w = residual_chain(300)
    fg = FunctionGraph([x, w], [y])
    fg.clients()  # the reader index, keyed by ids, is not pickled
    loaded = pickle.loads(pickle.dumps(fg))
    assert loaded._clients is None
    assert len(loaded.toposort()) == len(fg.toposort())
    assert len(loaded.clients()) == len(fg.clients())


@pytest.mark.slow  # two child processes per mode (6-8 s each)
@pytest.mark.parametrize("mode", ["C", "PY"])
def test_deep_function_pickles_in_a_fresh_process(mode, tmp_path):
    """N = 400: pickled in one new process (the default recursion limit), loaded and
    called in another, equal to the function it was pickled from and to numpy."""
    dump = textwrap.dedent(f"""
        import pickle, sys
        import numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_pickle_deep import residual_chain
        import cgraph
        x, y, w = residual_chain(400)
        f = cgraph.function([x], y, mode={mode!r})
        xv = np.linspace(-1, 1, 6)
        np.save({str(tmp_path / "before.npy")!r}, f(xv))
        np.save({str(tmp_path / "w.npy")!r}, w.get_value())
        with open({str(tmp_path / "f.pkl")!r}, "wb") as out:
            pickle.dump(f, out)
    """)
    load = textwrap.dedent(f"""
        import pickle
        import numpy as np
        with open({str(tmp_path / "f.pkl")!r}, "rb") as src:
            f = pickle.load(src)
        np.save({str(tmp_path / "after.npy")!r}, f(np.linspace(-1, 1, 6)))
    """)
    for script in (dump, load):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
    before, after = np.load(tmp_path / "before.npy"), np.load(tmp_path / "after.npy")
    np.testing.assert_array_equal(after, before)
    expected = numpy_chain(np.load(tmp_path / "w.npy"), np.linspace(-1, 1, 6), 400)
    np.testing.assert_allclose(after, expected, rtol=1e-12)
