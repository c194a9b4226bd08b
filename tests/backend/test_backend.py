"""Tests of cgraph.backend: compiling C text, the disk cache, locking and loading.

Every test gets its own cache root (``CGRAPH_CACHE_DIR`` under ``tmp_path``), and
the in-process memo is emptied around each test, so the user's cache is never touched.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import child_env

from cgraph.backend import (
    BuildOptions,
    CompileError,
    cache,
    cache_clear,
    cache_dir,
    cache_info,
    cache_list,
    default_options,
    identity,
    load_module,
    stats,
    store,
)

CDEF = "int cg_t1_run(const int64_t *P, char *err, void *a0);"

# A child process: load the module for argv[1], run it, print stats and result as JSON.
CHILD = r"""
import json, sys
import numpy as np
from cgraph.backend import default_options, load_module, stats
m = load_module(sys.argv[1], sys.argv[2], default_options())
x = np.arange(6.0)
P = np.array([x.size], dtype=np.int64)
err = m.ffi.new("char[200]")
rc = m.lib.cg_t1_run(m.ffi.cast("int64_t *", m.ffi.from_buffer(P)), err, m.ffi.from_buffer(x))
print(json.dumps({"stats": stats.as_dict(), "rc": rc, "x": x.tolist(), "cached": m.from_cache}))
"""


def make_source(tag: str, factor: str = "2.0", include: str = "") -> str:
    """A module with a static helper and one entry that scales a double array in place."""
    return f"""#include <stdint.h>
{include}
/* test module {tag} */
static double scale(double x) {{ return {factor} * x; }}

int cg_t1_run(const int64_t *P, char *err, void *a0)
{{
    double *x = (double *)a0;
    if (P[0] < 0) {{ err[0] = 'n'; err[1] = 0; return 1; }}
    for (int64_t i = 0; i < P[0]; i++) x[i] = scale(x[i]);
    return 0;
}}
"""


def run(module, n: int = 6) -> np.ndarray:
    """Call the entry on arange(n) through cffi and return the array it changed."""
    ffi, lib = module.ffi, module.lib
    x = np.arange(float(n))
    P = np.array([n], dtype=np.int64)
    err = ffi.new("char[200]")
    rc = lib.cg_t1_run(ffi.cast("int64_t *", ffi.from_buffer(P)), err, ffi.from_buffer(x))
    assert rc == 0
    return x


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """A fresh cache root, an empty memo and zeroed counters for each test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(root))
    cache._memo.clear()
    stats.compiles = stats.disk_hits = stats.memo_hits = 0
    yield root
    cache._memo.clear()


def run_child(root: Path, source: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, source, CDEF],
        env=child_env(CGRAPH_CACHE_DIR=str(root)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_compile_load_and_call(private_cache):
    source = make_source("basic")
    m = load_module(source, CDEF, default_options())
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))
    assert not m.from_cache
    assert stats.compiles == 1 and stats.disk_hits == 0
    assert len(m.key) == 64 and int(m.key, 16) >= 0
    entry = private_cache / m.key[:2] / m.key
    assert m.so_path.parent == entry and m.so_path.name.startswith(f"_cg_{m.key[:20]}")
    assert m.c_path == entry / "source.c" and m.c_path.read_text() == source
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["so_sha256"] == hashlib.sha256(m.so_path.read_bytes()).hexdigest()
    assert "-fvisibility=hidden" in meta["command"]
    # The module holds no Python: cffi opens it by the cdef's functions, its only exports.
    so = ctypes.CDLL(str(m.so_path))
    assert hasattr(so, "cg_t1_run") and not hasattr(so, f"PyInit__cg_{m.key[:20]}")


def test_only_the_cdef_is_exported():
    """A function of the module that the cdef does not name stays hidden (an exported
    `step` was once bound to glibc's step()), and the cdef's own calls stay inside."""
    source = """#include <stdint.h>
int step(int x) { return x + 40; }
int cg_t3_twice(int x) { return 2 * x; }
int cg_t3_run(const int64_t *P, char *err, void *a0)
{
    (void)err;
    *(int64_t *)a0 = cg_t3_twice(step((int)P[0]));
    return 0;
}
"""
    cdef = ("int cg_t3_run(const int64_t *P, char *err, void *a0);\n"
            "int cg_t3_twice(int x);")
    m = load_module(source, cdef, default_options())
    P = np.array([1], dtype=np.int64)
    out = np.zeros(1, dtype=np.int64)
    err = m.ffi.new("char[200]")
    assert m.lib.cg_t3_run(m.ffi.cast("int64_t *", m.ffi.from_buffer(P)), err,
                           m.ffi.from_buffer(out)) == 0
    assert out[0] == 82 and m.lib.cg_t3_twice(5) == 10
    so = ctypes.CDLL(str(m.so_path))
    assert hasattr(so, "cg_t3_run") and hasattr(so, "cg_t3_twice") and not hasattr(so, "step")


def test_memo_hit_does_not_compile():
    source = make_source("memo")
    first = load_module(source, CDEF, default_options())
    second = load_module(source, CDEF, default_options())
    third = load_module(source, CDEF, default_options())
    assert second.from_cache and second.lib is first.lib and second.ffi is first.ffi
    assert third is second
    assert (stats.compiles, stats.disk_hits, stats.memo_hits) == (1, 0, 2)
    np.testing.assert_array_equal(run(second), 2.0 * np.arange(6.0))


@pytest.mark.slow
def test_second_process_hits_disk(private_cache):
    source = make_source("disk")
    load_module(source, CDEF, default_options())
    report = run_child(private_cache, source)
    assert report["stats"] == {"compiles": 0, "disk_hits": 1, "memo_hits": 0,
                               "compile_seconds": 0.0}
    assert report["cached"] and report["x"] == (2.0 * np.arange(6.0)).tolist()


def test_compile_error_names_error_file_and_command(private_cache):
    source = make_source("broken").replace("return 0;", "return 0 +;")
    with pytest.raises(CompileError) as info:
        load_module(source, CDEF, default_options())
    exc = info.value
    text = str(exc)
    assert "error" in exc.stderr and "expected expression" in text
    assert Path(exc.c_path).is_file() and exc.c_path in text
    assert Path(exc.c_path).parent.parent == private_cache / "failed"
    assert exc.command in text and exc.command.startswith("cd ")
    assert cache_list() == []
    # The command reproduces the failure from any working directory.
    proc = subprocess.run(exc.command, shell=True, capture_output=True, text=True, cwd="/")
    assert proc.returncode != 0 and "expected expression" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate_so", "flip_so_byte", "missing_so",
                                    "garbage_meta", "garble_source", "truncate_source"])
def test_corrupt_entry_is_rebuilt(private_cache, damage):
    source = make_source(f"corrupt-{damage}")
    assert run_child(private_cache, source)["stats"]["compiles"] == 1
    (entry,) = [Path(e["path"]) for e in cache_list()]
    (so_path,) = entry.glob("*.so")
    c_path = entry / "source.c"
    if damage == "truncate_so":
        so_path.write_bytes(so_path.read_bytes()[:1000])
    elif damage == "flip_so_byte":  # same size, one byte changed in the middle
        data = bytearray(so_path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        so_path.write_bytes(bytes(data))
    elif damage == "missing_so":
        so_path.unlink()
    elif damage == "garbage_meta":
        (entry / "meta.json").write_text('{"key": ')
    elif damage == "garble_source":
        c_path.write_text(c_path.read_text().replace("scale", "SCALE"))
    else:
        c_path.write_text(c_path.read_text()[:40])
    m = load_module(source, CDEF, default_options())
    assert stats.compiles == 1 and not m.from_cache
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["so_sha256"] == hashlib.sha256(m.so_path.read_bytes()).hexdigest()
    assert m.c_path.read_text() == source


@pytest.mark.slow
def test_concurrent_processes_compile_once(private_cache):
    source = make_source("race")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, source, CDEF],
            env=child_env(CGRAPH_CACHE_DIR=str(private_cache)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["stats"]["compiles"] for r in reports) == 1
    assert sum(r["stats"]["disk_hits"] for r in reports) == 7
    assert all(r["x"] == (2.0 * np.arange(6.0)).tolist() for r in reports)
    assert len(cache_list()) == 1
    assert not [p for p in private_cache.iterdir() if p.name.startswith(".")]


def test_concurrent_threads_compile_once():
    source = make_source("threads")
    with ThreadPoolExecutor(4) as pool:
        modules = list(pool.map(lambda _: load_module(source, CDEF, default_options()), range(4)))
    assert (stats.compiles, stats.memo_hits) == (1, 3)
    assert len({id(m.lib) for m in modules}) == 1
    np.testing.assert_array_equal(run(modules[0]), 2.0 * np.arange(6.0))


def test_unusable_cache_dir_falls_back_with_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(store, "_fallback_root", None)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="cannot use cache dir"):
        m = load_module(make_source("fallback"), CDEF, default_options())
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))
    assert cache_dir().name.startswith("cgraph-cache-") and m.so_path.is_relative_to(cache_dir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a 0o500 directory")
def test_read_only_cache_dir_falls_back(tmp_path, monkeypatch):
    root = tmp_path / "ro"
    root.mkdir(mode=0o500)
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(root))
    monkeypatch.setattr(store, "_fallback_root", None)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="cannot use cache dir"):
        m = load_module(make_source("read-only"), CDEF, default_options())
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))


def test_cache_dir_location_and_mode(private_cache, tmp_path, monkeypatch):
    assert cache_dir() == private_cache
    assert private_cache.stat().st_mode & 0o077 == 0
    monkeypatch.delenv("CGRAPH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "cgraph"
    assert cache_dir().stat().st_mode & 0o777 == 0o700


def test_key_covers_headers_and_options(tmp_path):
    header = tmp_path / "inc" / "factor.h"
    header.parent.mkdir()
    header.write_text("#define FACTOR 3.0\n")
    options = BuildOptions(include_dirs=(str(header.parent),))
    source = make_source("header", factor="FACTOR", include='#include "factor.h"')
    m1 = load_module(source, CDEF, options, depends=(str(header),))
    np.testing.assert_array_equal(run(m1), 3.0 * np.arange(6.0))

    header.write_text("#define FACTOR (-4.0)\n")
    m2 = load_module(source, CDEF, options, depends=(str(header),))
    assert m2.key != m1.key and not m2.from_cache
    np.testing.assert_array_equal(run(m2), -4.0 * np.arange(6.0))

    m3 = load_module(
        source,
        CDEF,
        BuildOptions(include_dirs=options.include_dirs, cflags=("-O1",)),
        depends=(str(header),),
    )
    assert m3.key not in (m1.key, m2.key)
    assert stats.compiles == 3


def test_default_options_honours_cc(monkeypatch):
    monkeypatch.setenv("CC", "cc")
    assert default_options().cc == "cc"
    monkeypatch.delenv("CC")
    assert default_options() == BuildOptions()
    assert "-ffast-math" not in BuildOptions().cflags


def test_cache_info_list_clear(private_cache):
    m1 = load_module(make_source("info-a"), CDEF, default_options())
    m2 = load_module(make_source("info-b", factor="5.0"), CDEF, default_options())
    listing = cache_list()
    assert sorted(e["key"] for e in listing) == sorted([m1.key, m2.key])
    for entry in listing:
        path = Path(entry["path"])
        assert path.is_dir() and entry["size"] == sum(f.stat().st_size for f in path.iterdir())
        assert entry["created"] > 0
    info = cache_info()
    assert info == {
        "path": str(private_cache),
        "n_entries": 2,
        "total_bytes": sum(e["size"] for e in listing),
        "n_stale_builds": 0,
        "stale_bytes": 0,
    }
    assert cache_clear() == 2
    assert cache_list() == [] and cache_info()["n_entries"] == 0
    cache._memo.clear()
    m3 = load_module(make_source("info-a"), CDEF, default_options())
    assert stats.compiles == 3 and m3.key == m1.key and m3.so_path.is_file()


def test_native_builds_are_keyed_on_the_cpu(tmp_path, monkeypatch):
    native = BuildOptions(cflags=("-O2", "-march=native"))
    portable = BuildOptions(cflags=("-O2",))
    key = identity.module_key
    k_native = key("int x;", "", native, (), tmp_path)
    k_portable = key("int x;", "", portable, (), tmp_path)
    monkeypatch.setattr(identity, "host_cpu", lambda: "cpu another-machine")
    assert key("int x;", "", native, (), tmp_path) != k_native
    assert key("int x;", "", portable, (), tmp_path) == k_portable


@pytest.mark.slow
def test_process_killed_mid_compile_leaves_nothing_that_loads(private_cache, tmp_path):
    """SIGKILL during the compiler run: no entry is published; the next build works."""
    slow_cc = tmp_path / "slow-gcc"  # gcc, made slow while `flag` exists
    marker, flag = tmp_path / "compiling", tmp_path / "slow"
    flag.touch()
    slow_cc.write_text(f"#!/bin/sh\nif [ -e {flag} ]; then touch {marker}; sleep 30; fi\n"
                       "exec gcc \"$@\"\n")
    slow_cc.chmod(0o755)
    source = make_source("killed")
    env = child_env(CGRAPH_CACHE_DIR=str(private_cache))
    env["CC"] = str(slow_cc)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, source, CDEF], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child never reached the compiler"
    proc.kill()
    proc.wait(timeout=30)
    assert cache_list() == []  # nothing was published
    flag.unlink()
    # A later process with the same compiler (so the same key) compiles and runs it.
    proc = subprocess.run([sys.executable, "-c", CHILD, source, CDEF], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["stats"]["compiles"] == 1 and report["x"] == (2.0 * np.arange(6.0)).tolist()
    assert len(cache_list()) == 1


def test_meanwhile_runs_once_while_the_compiler_runs(private_cache):
    """`meanwhile` is called once per build, after the compiles started (the build
    folder holds the source) and before the module is published; hits do not call it."""
    seen = []

    def meanwhile():
        building = list(private_cache.glob(".tmp-*/source.c"))
        seen.append((len(building), len(cache_list())))

    source = make_source("meanwhile")
    m = load_module(source, CDEF, default_options(), meanwhile=meanwhile)
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))
    assert seen == [(1, 0)]
    cache._memo.clear()
    load_module(source, CDEF, default_options(), meanwhile=meanwhile)  # a disk hit
    assert seen == [(1, 0)] and stats.disk_hits == 1


def test_meanwhile_that_raises_stops_the_build(private_cache):
    def meanwhile():
        raise KeyError("from meanwhile")

    source = make_source("meanwhile-raises")
    with pytest.raises(KeyError, match="from meanwhile"):
        load_module(source, CDEF, default_options(), meanwhile=meanwhile)
    assert cache_list() == [] and list(private_cache.glob(".tmp-*")) == []
    m = load_module(source, CDEF, default_options())  # nothing left in the way
    np.testing.assert_array_equal(run(m), 2.0 * np.arange(6.0))
