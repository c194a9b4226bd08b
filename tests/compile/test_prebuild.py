"""The install-time build (cgraph/compile/prebuild.py, run by setup.py): a first compile
uses its files when they were compiled so (same compiler, options, sources), and
compiles into the cache, as without them, when they were not or are damaged.

Each check is a new process with an empty cache, as a user's first compile after an
install, pointed at the install-time folder by CGRAPH_PREBUILT.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cgraph.backend import prebuilt

pytestmark = pytest.mark.slow  # child processes, each compiling from an empty cache

CHILD = """
import json, numpy as np, cgraph, cgraph.tensor as T
from cgraph import backend
from cgraph.compile import fastcall
a = T.dmatrix("a")
w = cgraph.shared(np.full((3, 2), 0.5))
f = cgraph.function([a], T.sum(T.tanh(T.dot(a, w))), updates=[(w, w * 0.5)])
got = [float(f(np.arange(12.0).reshape(4, 3))) for _ in range(3)]
fast = fastcall.factory(cgraph.config.cc, None, False) is not None
root = backend.cache_dir()
print(json.dumps({"got": got, "compiles": backend.stats.compiles, "fast": fast,
                  "objects": len(list((root / "runtime").glob("*.o"))),
                  "jinja": len(list((root / "jinja").glob("*")))}))
"""


def expected() -> list[float]:
    x, w, costs = np.arange(12.0).reshape(4, 3), np.full((3, 2), 0.5), []
    for _ in range(3):
        costs.append(float(np.sum(np.tanh(x @ w))))
        w = w * 0.5
    return costs


def prebuild(folder: Path, tmp: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cgraph.compile.prebuild", str(folder)],
                          env=dict(os.environ, CGRAPH_CACHE_DIR=str(tmp / "build-cache"), **env),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    done = prebuild(tmp / "prebuilt", tmp)
    assert done.returncode == 0, done.stderr
    return tmp / "prebuilt"


def first_compile(tmp: Path, folder: Path | str, **env: str) -> dict:
    """The child's report, its results checked against numpy's."""
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          env=dict(os.environ, CGRAPH_CACHE_DIR=str(tmp / "cache"),
                                   CGRAPH_PREBUILT=str(folder), **env), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(report["got"], expected(), rtol=1e-13)
    assert report["fast"]  # the C call path is there, installed or built
    return report


def test_used_when_compiled_so(installed, tmp_path):
    report = first_compile(tmp_path, installed)
    # the function's own module alone: no call path, runtime part or template compiled
    assert (report["compiles"], report["objects"], report["jinja"]) == (1, 0, 0)


def test_without_them_everything_is_compiled_at_first_use(installed, tmp_path):
    report = first_compile(tmp_path, "off")
    assert report["compiles"] == 2 and report["objects"] == 2 and report["jinja"] > 0


def test_another_compiler_compiles_its_own(installed, tmp_path):
    """A compiler other than the install's (here a wrapper script of it): the call path
    and the runtime parts are its own; the templates do not depend on it."""
    wrapper = tmp_path / "my-cc"
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("gcc")} "$@"\n')
    wrapper.chmod(0o755)
    report = first_compile(tmp_path, installed, CGRAPH_FLAGS=f"cc={wrapper}")
    assert (report["compiles"], report["objects"], report["jinja"]) == (2, 2, 0)


def test_damaged_files_are_not_used(installed, tmp_path):
    folder = tmp_path / "prebuilt"
    shutil.copytree(installed, folder)
    for path in folder.iterdir():
        if path.name != prebuilt.MANIFEST:
            path.write_bytes(b"\0" * path.stat().st_size)
    report = first_compile(tmp_path, folder)
    assert report["compiles"] == 2 and report["objects"] == 2 and report["jinja"] > 0


def test_a_call_path_that_does_not_load_is_built(installed, tmp_path):
    """Listed with its damaged bytes (as if the manifest were written after the damage):
    the module does not import, and the call path is built into the cache."""
    folder = tmp_path / "prebuilt"
    shutil.copytree(installed, folder)
    manifest = json.loads((folder / prebuilt.MANIFEST).read_text())
    files = {}
    for key, entry in manifest["entries"].items():
        if entry["file"].endswith(".so"):
            (folder / entry["file"]).write_bytes(b"not a shared object")
        files[key] = (entry["file"], entry["what"])
    prebuilt.write_manifest(folder, files)
    report = first_compile(tmp_path, folder)
    assert (report["compiles"], report["objects"], report["jinja"]) == (2, 0, 0)


def test_an_install_without_a_compiler_still_installs(tmp_path):
    """The build step leaves out what it cannot compile, and says so; what it could
    (the templates) is used, the rest compiled at first use."""
    done = prebuild(tmp_path / "prebuilt", tmp_path, CGRAPH_FLAGS="cc=/no/such/cc")
    assert done.returncode == 0, done.stderr
    assert "left out" in done.stderr
    whats = [e["what"] for e in json.loads(
        (tmp_path / "prebuilt" / prebuilt.MANIFEST).read_text())["entries"].values()]
    assert whats and all(what.startswith("the template") for what in whats)
    report = first_compile(tmp_path, tmp_path / "prebuilt")
    assert (report["compiles"], report["objects"], report["jinja"]) == (2, 2, 0)
