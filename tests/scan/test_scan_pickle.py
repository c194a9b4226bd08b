"""A function with a scan (and its gradient) pickles, and the copy computes the same
numbers in a new process: the step's program is made again there."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_scan_function_pickles(mode, tmp_path):
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    w = cgraph.shared(np.eye(3) * 0.5 + 0.1, name="W")
    out, _ = cgraph.scan(lambda r, h: T.tanh(T.dot(w, h) + r), sequences=x, outputs_info=h0)
    f = cgraph.function([x, h0], [out, cgraph.grad(out.sum(), w)], mode=mode)
    xv = np.random.default_rng(1).standard_normal((5, 3))
    hv = np.linspace(-1, 1, 3)
    before = f(xv, hv)
    (tmp_path / "f.pkl").write_bytes(pickle.dumps(f))
    np.save(tmp_path / "in.npy", xv)
    script = textwrap.dedent(f"""
        import pickle
        import numpy as np
        f = pickle.loads(open({str(tmp_path / "f.pkl")!r}, "rb").read())
        out, g = f(np.load({str(tmp_path / "in.npy")!r}), np.linspace(-1, 1, 3))
        np.save({str(tmp_path / "out.npy")!r}, out)
        np.save({str(tmp_path / "g.npy")!r}, g)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), before[0])
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), before[1])
    # and in this process, next to the original
    again = pickle.loads(pickle.dumps(f))(xv, hv)
    np.testing.assert_array_equal(again[0], before[0])
    np.testing.assert_array_equal(again[1], before[1])
    h, expected = hv, []
    for r in xv:
        h = np.tanh(w.get_value() @ h + r)
        expected.append(h)
    np.testing.assert_allclose(before[0], np.array(expected), rtol=1e-12)
