"""A non-editable `pip install .` into a fresh venv works from outside the source tree."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import cgraph, cgraph.tensor as T
    assert not cgraph.__file__.startswith(sys.argv[1]), cgraph.__file__
    x = T.dscalar()
    f = cgraph.function([x], T.grad(T.exp(T.sin(x ** 2)), x))
    assert abs(f(15) - 4.347404090286685) < 1e-12
    assert os.path.exists(f.c_path)
    print("ok", cgraph.__file__)
""")


@pytest.mark.slow
def test_pip_install_into_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    python = venv / "bin" / "python"
    # Dependencies come from the base environment (--system-site-packages); the
    # build backend is fetched by pip's build isolation, as for any user.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
                   check=True, cwd=tmp_path)
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(python), "-c", SCRIPT, str(ROOT)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "site-packages" in result.stdout
