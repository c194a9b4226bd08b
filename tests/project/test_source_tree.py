"""The source tree imports and compiles from the repository's root, where its `cgraph/`
shadows any installed cgraph and has no `cgraph.templates` / `cgraph.csrc` packages
(setup.py maps the top-level templates/ and csrc/ to them only in an install)."""

import os
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO

ROOT = REPO

SCRIPT = textwrap.dedent("""
    import importlib.util, sys
    from pathlib import Path
    # An editable install's finder would map cgraph.templates and cgraph.csrc to the
    # checkout: without it, this is a source tree that shadows a regular install.
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable__")]
    import numpy as np
    import cgraph
    import cgraph.tensor as T
    root = Path(sys.argv[1])
    assert Path(cgraph.__file__).resolve() == root / "cgraph" / "__init__.py", cgraph.__file__
    assert importlib.util.find_spec("cgraph.templates") is None
    assert importlib.util.find_spec("cgraph.csrc") is None
    x = T.dvector("x")
    W = cgraph.shared(np.arange(6.0).reshape(2, 3), name="W")
    f = cgraph.function([x], [T.exp(x).sum(), T.dot(W, x)], updates=[(W, W * 0.5)])
    data = np.array([0.5, -1.0, 2.0])
    for k in range(3):  # the first call plans; the next ones take the C call path
        total, y = f(data)
        np.testing.assert_allclose(total, np.exp(data).sum(), rtol=1e-14)
        np.testing.assert_allclose(y, (np.arange(6.0).reshape(2, 3) * 0.5 ** k) @ data,
                                   rtol=1e-14)
    print("ok", f.c_path)
""")


@pytest.mark.slow
def test_source_tree_compiles_from_the_repository_root(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.startswith("ok " + str(tmp_path / "cache")), proc.stdout
