"""A non-editable `pip install .` into a fresh venv works from outside the source tree.

The venv sees the dependencies of the environment running the tests (a venv, a conda
environment or a system Python alike) through a .pth file listing that environment's
site folders: `--system-site-packages` would show the base interpreter's instead, which
a venv does not use.
"""

import os
import site
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from helpers import REPO

ROOT = REPO

SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np
    import cgraph, cgraph.tensor as T
    assert Path(cgraph.__file__).is_relative_to(sys.argv[1]), cgraph.__file__
    x = T.dscalar()
    f = cgraph.function([x], T.grad(T.exp(T.sin(x ** 2)), x))
    assert abs(f(15) - 4.347404090286685) < 1e-12
    assert os.path.exists(f.c_path)
    W = cgraph.shared(np.arange(6.0).reshape(2, 3))
    v = T.dvector()
    g = cgraph.function([v], T.dot(W, v))  # a BLAS product
    np.testing.assert_allclose(g([1.0, 2.0, 3.0]), [8.0, 26.0], rtol=1e-15)
    print("ok", cgraph.__file__)
""")


def outer_site_dirs() -> list[str]:
    """The folders this environment imports installed packages from, in its order."""
    dirs = [*site.getsitepackages(), sysconfig.get_path("purelib"),
            sysconfig.get_path("platlib")]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def fresh_venv(folder: Path) -> Path:
    """A venv of this interpreter seeing this environment's packages; its site folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_path('purelib'))"], check=True,
                             capture_output=True, text=True).stdout.strip()
    # Plain folders: the .pth files inside them (an editable cgraph's finder) stay out.
    (Path(purelib) / "outer_env.pth").write_text("\n".join(outer_site_dirs()) + "\n")
    return Path(purelib)


@pytest.mark.slow
def test_pip_install_into_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    purelib = fresh_venv(venv)
    # pip of this environment installs the package into the venv's site folder; the
    # build backend is fetched by pip's build isolation, as for any user.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-compile", "--target", str(purelib), str(ROOT)],
                   check=True, cwd=tmp_path)
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(venv / "bin" / "python"), "-c", SCRIPT, str(purelib)],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok " + str(purelib)), result.stdout
