"""A non-editable `pip install .` into a fresh venv works from outside the source tree,
and an editable one too; both compile at install time what a machine compiles once
(cgraph/compile/prebuild.py), which the first compile then uses.

The venv sees the dependencies of the environment running the tests (a venv, a conda
environment or a system Python alike) through a .pth file listing that environment's
site folders: `--system-site-packages` would show the base interpreter's instead, which
a venv does not use.
"""

import json
import os
import shutil
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


#: A first compile in an empty cache: with the install-time files, no runtime part is
#: compiled into the cache (the loop's, of a function without products: its key holds
#: no library version, which the build environment's might not share).
FIRST_USE = textwrap.dedent("""
    import json, numpy as np, cgraph, cgraph.tensor as T
    from cgraph.backend import cache_dir, prebuilt
    x = T.dvector()
    f = cgraph.function([x], T.exp(x) * 2.0)
    assert np.allclose(f([0.0, 1.0]), [2.0, 2.0 * np.e])
    print(json.dumps({"manifest": (prebuilt.folder() / prebuilt.MANIFEST).is_file(),
                      "objects": len(list((cache_dir() / "runtime").glob("*.o")))}))
""")


def first_use(python: Path, cache: Path) -> dict:
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(cache))
    env.pop("PYTHONPATH", None)
    env.pop("CGRAPH_PREBUILT", None)
    done = subprocess.run([str(python), "-c", FIRST_USE], env=env, capture_output=True,
                          text=True, cwd=cache.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    assert first_use(venv / "bin" / "python", tmp_path / "cache-first-use") == {
        "manifest": True, "objects": 0}


@pytest.mark.slow
def test_editable_install_into_fresh_venv(tmp_path):
    """`pip install -e` of a copy of the tree (the install-time build writes into the
    tree it installs: this one must stay as it is) into a venv with its own pip."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "_prebuilt", ".*_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                              "print(sysconfig.get_path('purelib'))"], check=True,
                             capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "outer_env.pth").write_text("\n".join(outer_site_dirs()) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--no-deps", "-e", str(tree)], check=True, cwd=tmp_path)
    assert (tree / "cgraph" / "_prebuilt" / "manifest.json").is_file()
    assert first_use(venv / "bin" / "python", tmp_path / "cache") == {
        "manifest": True, "objects": 0}
