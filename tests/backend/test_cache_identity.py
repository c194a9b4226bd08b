"""The cache's identity: what keys a module besides its source, the private folders
it keeps, and the leftovers of killed builds.

A cache folder may be shared by machines (a cluster's home directory): every way to
a module, the program index of warm starts included, must key on the compiler, the
host CPU (modules use -march=native), the flags, the Python ABI, cffi and cgraph.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, cli_output

import cgraph
import cgraph.tensor as T
from cgraph import backend
from cgraph.backend import cache, identity
from cgraph.compile import compiled, fastcall, toolchain

ROOT = REPO


def _compiled(expr_seed: float):
    x = T.dvector("x")
    return cgraph.function([x], T.exp(x) * expr_seed + 1.0)


IDENTITIES = {
    "host_cpu": lambda mp: mp.setattr(identity, "host_cpu", lambda: "cpu another-machine"),
    "compiler": lambda mp: mp.setattr(identity, "compiler_identity",
                                      lambda cc, folder: "/usr/bin/gcc 1 2\ngcc 99.1"),
    "cffi/ABI": lambda mp: mp.setattr(identity, "KEY_PREFIX", "cgraph 0\0cffi 0\0.so"),
}


@pytest.mark.slow
@pytest.mark.parametrize("which", list(IDENTITIES))
def test_program_index_misses_for_another_machine(fresh_cache, monkeypatch, which):
    """The warm-start index never hands out another identity's module."""
    first = _compiled(2.5)
    x = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(first(x), np.exp(x) * 2.5 + 1.0)
    same = _compiled(2.5)  # same identity: found (memo or index), not compiled
    assert same._module.key == first._module.key
    monkeypatch.setattr(cache, "_memo", {})
    IDENTITIES[which](monkeypatch)
    compiles = backend.stats.compiles
    other = _compiled(2.5)
    assert other._module.key != first._module.key, "loaded the other machine's module"
    assert not other._module.from_cache and backend.stats.compiles > compiles
    np.testing.assert_allclose(other(x), np.exp(x) * 2.5 + 1.0)


def test_index_lookup_keys_on_the_options(fresh_cache, monkeypatch):
    """load_indexed with another identity or other options finds nothing."""
    options = backend.default_options()
    source = "int cg_ix_run(int a) { return a + 1; }\n"
    cdef = "int cg_ix_run(int a);"
    module = backend.load_module(source, cdef, options)
    backend.record_index("ab" * 32, module, options)
    assert backend.load_indexed("ab" * 32, options).key == module.key
    other = backend.BuildOptions(cc=options.cc, cflags=("-O1",))
    assert backend.load_indexed("ab" * 32, other) is None
    monkeypatch.setattr(identity, "host_cpu", lambda: "cpu another-machine")
    assert backend.load_indexed("ab" * 32, options) is None


# ------------------------------------------------------------------ Jinja bytecode

JINJA_CHILD = """\
import numpy as np, cgraph, cgraph.tensor as T
x = T.dvector('x')
f = cgraph.function([x], T.exp(x) * 4.25 - 1.0)
print(f(np.arange(3.0)).tolist())
"""


def _trap_system_tmp(tmp: Path, how: str) -> None:
    """Jinja's default bytecode folder in `tmp`, as another local user could leave it."""
    folder = tmp / f"_jinja2-cache-{os.getuid()}"
    if how == "not-a-folder":
        folder.write_text("")
    else:  # a folder of another user (only root can make one here)
        folder.mkdir(mode=0o755)
        os.chown(folder, 54321, 54321)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["not-a-folder", "foreign-owner"])
def test_jinja_folder_in_the_system_tmp_does_not_matter(tmp_path, how):
    if how == "foreign-owner" and os.geteuid() != 0:
        pytest.skip("making a folder of another user needs root")
    system_tmp, root = tmp_path / "tmp", tmp_path / "cache"
    system_tmp.mkdir()
    _trap_system_tmp(system_tmp, how)
    # (not the templates compiled at install time: the cache's own are looked at)
    env = dict(os.environ, TMPDIR=str(system_tmp), CGRAPH_CACHE_DIR=str(root),
               CGRAPH_PREBUILT="off")
    proc = subprocess.run([sys.executable, "-c", JINJA_CHILD], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(json.loads(proc.stdout), np.exp(np.arange(3.0)) * 4.25 - 1.0)
    bytecode = list((root / "jinja").glob("*"))
    assert bytecode, "the templates' bytecode is not kept in the cache"
    assert (root / "jinja").stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in system_tmp.iterdir()) == [f"_jinja2-cache-{os.getuid()}"]
    # A second process reads the bytecode back: no template is compiled again.
    stamps = {p: p.stat().st_mtime_ns for p in bytecode}
    again = subprocess.run([sys.executable, "-c", JINJA_CHILD.replace("4.25", "4.5")],
                           env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in bytecode} == stamps


# ------------------------------------------------------------ leftovers of builds

STALE_AGE = 3600  # seconds: well past any build's age


def _fake_build(root: Path, name: str, age: float) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "source.c").write_text("int x;\n")
    then = time.time() - age
    os.utime(folder, (then, then))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("command", [("cache", "clear"), ("cache", "purge", "--older-than", "30"),
                                     ("cache", "purge", "--max-size", "1G")])
def test_stale_build_folders_are_counted_and_removed(fresh_cache, command):
    root = backend.cache_dir()
    stale = [_fake_build(root, f".tmp-{'1' * 64}-a1b2", STALE_AGE),
             _fake_build(root, ".tmp-x7yz", STALE_AGE),  # no key in its name
             _fake_build(root, ".del-q9", STALE_AGE)]  # a removal that was killed
    fresh = _fake_build(root, f".tmp-{'2' * 64}-c3d4", 5)  # may be a build just started
    info = backend.cache_info()
    assert info["n_stale_builds"] == 3 and info["stale_bytes"] == 3 * len("int x;\n")
    assert "stale builds:    3 (21 B;" in cli_output("cache", "info", cache=root)
    out = cli_output(*command, cache=root)
    assert "3 stale build folders" in out
    assert [p for p in stale if p.exists()] == [] and fresh.is_dir()
    assert backend.cache_info()["n_stale_builds"] == 0


SLOW_CC = """#!/bin/sh
case "$1" in --version) exec gcc "$@";; esac
touch {marker}
sleep 120
exec gcc "$@"
"""
BUILD_CHILD = """\
from cgraph import backend
backend.load_module("int cg_slow_run(int a) { return a + 2; }\\n", "int cg_slow_run(int a);",
                    backend.default_options())
"""


def test_a_build_in_progress_is_never_removed(tmp_path):
    """An old build folder whose key is locked by a live process stays; once the process
    is killed, the next clear removes it."""
    root, marker, cc = tmp_path / "cache", tmp_path / "compiling", tmp_path / "slow-cc"
    cc.write_text(SLOW_CC.format(marker=marker))
    cc.chmod(0o755)
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(root), CC=str(cc))
    proc = subprocess.Popen([sys.executable, "-c", BUILD_CHILD], env=env,
                            start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), proc.stderr.read().decode() if proc.poll() is not None else ""
        [building] = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
        then = time.time() - STALE_AGE
        os.utime(building, (then, then))  # old, but its process is alive and holds the lock
        assert backend.cache_info(str(root))["n_stale_builds"] == 0
        backend.cache_clear(str(root))
        backend.cache_purge(older_than=0, root=str(root))
        assert building.is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert building.is_dir() and backend.cache_info(str(root))["n_stale_builds"] == 1
    assert backend.cache_clear(str(root)) == 0
    assert not building.exists()


# ------------------------------------------------- what enters a function's key


def _copy_with_change(src: Path, dst: Path, name: str) -> Path:
    """A copy of the folder `src` in which the file `name` has one byte more."""
    shutil.copytree(src, dst)
    changed = dst / name
    changed.write_bytes(changed.read_bytes() + b"\n")
    return dst


@pytest.fixture
def digest_inputs(monkeypatch):
    """`use(templates=..., csrc=...)` makes the generator digest and the header lists
    read the files of other folders (the modules still include the real ones)."""

    def use(templates: Path | None = None, csrc: Path | None = None) -> None:
        if templates is not None:
            monkeypatch.setattr(toolchain, "templates_dir", lambda: templates)
        if csrc is not None:
            moved = {name: tuple(str(csrc / Path(h).name) for h in getattr(toolchain, name)())
                     for name in ("kernel_headers", "call_path_headers")}
            for module in (toolchain, compiled):
                monkeypatch.setattr(module, "kernel_headers", lambda: moved["kernel_headers"])
            monkeypatch.setattr(toolchain, "call_path_headers",
                                lambda: moved["call_path_headers"])
        toolchain.generator_digest.cache_clear()

    yield use
    monkeypatch.undo()
    toolchain.generator_digest.cache_clear()


def test_a_changed_template_changes_the_key_of_function_modules(fresh_cache, monkeypatch,
                                                                 digest_inputs, tmp_path):
    """A template's bytes are in the key, without any version to bump: a module rendered
    from the old template is never loaded for the new one."""
    first = _compiled(3.25)
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(first(x), np.exp(x) * 3.25 + 1.0)
    monkeypatch.setattr(cache, "_memo", {})
    digest_inputs(templates=_copy_with_change(toolchain.templates_dir(), tmp_path / "templates",
                                              "elementwise.c.j2"))
    compiles = backend.stats.compiles
    other = _compiled(3.25)
    assert other._module.key != first._module.key
    assert backend.stats.compiles == compiles + 1
    np.testing.assert_allclose(other(x), np.exp(x) * 3.25 + 1.0)


def test_the_call_path_header_is_only_in_the_call_path_key(fresh_cache, monkeypatch,
                                                           digest_inputs, tmp_path):
    """cg_fastcall.h is compiled into the C call path's module alone: changing it
    rebuilds that module and no function's module."""
    cc, root = cgraph.config.cc, backend.cache_dir()
    options = toolchain.call_path_options(cc, False)

    def call_path_key() -> str:
        return identity.module_key(fastcall._SOURCE, fastcall._CDEF, options,
                                   toolchain.call_path_headers(), root)

    first, before = _compiled(1.75), call_path_key()
    assert toolchain.CALL_PATH_HEADER not in " ".join(toolchain.kernel_headers())
    monkeypatch.setattr(cache, "_memo", {})
    digest_inputs(csrc=_copy_with_change(toolchain.csrc_dir(), tmp_path / "csrc",
                                         toolchain.CALL_PATH_HEADER))
    compiles = backend.stats.compiles
    assert _compiled(1.75)._module.key == first._module.key
    assert backend.stats.compiles == compiles
    assert call_path_key() != before


@pytest.mark.parametrize("header", ["cgraph.h", "cg_errbuf.h", "cg_math.h"])
def test_a_changed_kernel_header_changes_both_keys(digest_inputs, tmp_path, header):
    """A header that generated modules include is in their key (through the generator
    digest) and in the C call path's (which includes the error buffer's size)."""
    def keys() -> tuple[str, list[str]]:
        headers = toolchain.call_path_headers()
        return toolchain.generator_digest(), [identity.file_digest(h) for h in headers]

    before = keys()
    digest_inputs(csrc=_copy_with_change(toolchain.csrc_dir(), tmp_path / "csrc", header))
    after = keys()
    assert after[0] != before[0] and after[1] != before[1]


def test_the_version_is_written_once():
    """cgraph.__version__ is the installed distribution's version, and what keys
    modules; pyproject.toml reads it rather than repeating it."""
    assert cgraph.__version__ == cgraph._version.__version__
    assert compiled.VERSION == cgraph.__version__
    assert f"cgraph {cgraph.__version__}" in identity.KEY_PREFIX
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject.split("\n[project]\n")[1].split("\n[")[0]
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert re.search(r'^dynamic = \["version"\]$', project, re.MULTILINE)
    assert 'version = { attr = "cgraph._version.__version__" }' in pyproject
    try:
        installed = importlib.metadata.version("cgraph")
    except importlib.metadata.PackageNotFoundError:
        return
    assert installed == cgraph.__version__


def test_the_error_buffer_size_is_written_once():
    """CG_ERRBUF is defined in one header; C uses the name, Python reads the value."""
    csrc = toolchain.csrc_dir()
    defined = [h.name for h in csrc.glob("*.h") if "#define CG_ERRBUF " in h.read_text()]
    assert defined == ["cg_errbuf.h"]
    literal = re.compile(r"char err\[\d+\]|snprintf\(err[^,]*, \d+")
    for header in csrc.glob("*.h"):
        assert not literal.search(header.read_text()), header.name
    assert compiled.ERRBUF_SIZE == toolchain.ERRBUF_SIZE
    text = (csrc / "cg_errbuf.h").read_text()
    assert f"#define CG_ERRBUF {toolchain.ERRBUF_SIZE}\n" in text
