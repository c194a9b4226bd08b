"""Disk full while compiling: a clear DiskFullError, no broken entry, and the next
compile with room works.

The real test mounts a tiny tmpfs as the cache in a private mount namespace
(`unshare -m`, or `unshare -rm` without root), so the writes of cgraph and of the
linker really fail with ENOSPC; the in-process tests make each write step fail.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import child_env

import cgraph
import cgraph.tensor as T
from cgraph.backend import (
    DiskFullError,
    build,
    cache_list,
    default_options,
    load_module,
    stats,
    store,
)

CDEF = "int cg_t1_run(const int64_t *P, char *err, void *a0);"
SOURCE = """#include <stdint.h>
/* disk full test %s */
int cg_t1_run(const int64_t *P, char *err, void *a0)
{
    double *x = (double *)a0;
    for (int64_t i = 0; i < P[0]; i++) x[i] = 3.0 * x[i];
    return 0;
}
"""


def call(module) -> list[float]:
    x = np.arange(4.0)
    P = np.array([4], dtype=np.int64)
    rc = module.lib.cg_t1_run(module.ffi.cast("int64_t *", module.ffi.from_buffer(P)),
                              module.ffi.new("char[100]"), module.ffi.from_buffer(x))
    assert rc == 0
    return x.tolist()


def leftovers(root: Path) -> list[str]:
    """Temporary build folders and files left anywhere under the cache root."""
    return [str(p) for p in root.rglob(".tmp-*")] + [str(p) for p in root.rglob(".del-*")]



def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def exports_fail(path, *args, **kwargs):
    if Path(path).name == build.EXPORTS:
        enospc()
    return open(path, *args, **kwargs)


@pytest.mark.parametrize("step", ["source", "exports", "meta", "publish", "tempdir"])
def test_enospc_at_each_write_step(fresh_cache, monkeypatch, step):
    source = SOURCE % step
    real_replace = os.replace

    def replace_fails_on_publish(src, dst):
        if Path(dst).parent.parent == fresh_cache and Path(src).name.startswith(".tmp-"):
            enospc()
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        if step == "source":  # build.py writes source.c first
            patch.setattr(build, "open", enospc, raising=False)
        elif step == "exports":  # then the cdef's declarations, cg_exports.h
            patch.setattr(build, "open", exports_fail, raising=False)
        elif step == "meta":  # meta.json, written after the compiler succeeded
            patch.setattr(store, "write_atomic", enospc)
        elif step == "publish":  # the atomic rename into place
            patch.setattr(os, "replace", replace_fails_on_publish)
        else:
            cache_dir = store.cache_dir()  # created before the disk "fills"
            patch.setattr(store.tempfile, "mkdtemp", enospc)
            assert cache_dir == fresh_cache
        with pytest.raises(DiskFullError) as info:
            load_module(source, CDEF, default_options())
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert "no space left" in str(err) and str(fresh_cache) in str(err)
    assert "CGRAPH_CACHE_DIR" in str(err) and "cache clear" in str(err)
    assert cache_list() == [] and leftovers(fresh_cache) == []
    assert not (fresh_cache / "failed").exists()
    # With room again, the same module compiles, is published and runs.
    compiles = stats.compiles
    module = load_module(source, CDEF, default_options())
    assert stats.compiles == compiles + 1 and not module.from_cache
    assert call(module) == [0.0, 3.0, 6.0, 9.0]
    assert len(cache_list()) == 1 and leftovers(fresh_cache) == []


@pytest.mark.slow
def test_function_reports_disk_full(fresh_cache, monkeypatch):
    x = T.dvector("x")
    with monkeypatch.context() as patch:
        patch.setattr(store, "write_atomic", enospc)
        with pytest.raises(DiskFullError, match="no space left"):
            cgraph.function([x], x * 7.0 - 1.0)
    f = cgraph.function([x], x * 7.0 - 1.0)
    np.testing.assert_array_equal(f(np.ones(2)), [6.0, 6.0])


CHILD = r"""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
from cgraph.backend import DiskFullError, cache_list, default_options, load_module
root = Path(sys.argv[1])
source, cdef = sys.argv[2], sys.argv[3]
report = []
for size in ("8k", "16k", "8m"):   # cgraph's writes fail, then the linker's, then room
    subprocess.run(["mount", "-o", f"remount,size={size}", str(root)], check=True)
    try:
        m = load_module(source, cdef, default_options())
    except DiskFullError as err:
        report.append({"size": size, "error": str(err), "errno": err.errno})
    else:
        x = np.arange(4.0)
        P = np.array([4], dtype=np.int64)
        m.lib.cg_t1_run(m.ffi.cast("int64_t *", m.ffi.from_buffer(P)), m.ffi.new("char[9]"),
                        m.ffi.from_buffer(x))
        report.append({"size": size, "x": x.tolist(), "cached": m.from_cache})
    report[-1]["entries"] = len(cache_list())
    report[-1]["leftovers"] = [str(p) for p in root.rglob(".tmp-*")]
print(json.dumps(report))
"""


def unshare_prefix() -> list[str] | None:
    """A command prefix that runs a child in a private mount namespace, or None."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return None
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


@pytest.mark.slow
def test_real_disk_full_on_a_tiny_tmpfs(tmp_path):
    prefix = unshare_prefix()
    if prefix is None:
        pytest.skip("cannot make a private mount namespace (unshare) here")
    root = tmp_path / "tiny"
    root.mkdir(mode=0o700)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    mount = f"mount -t tmpfs -o size=8k,mode=0700 cgraph-test {root}"
    command = f'{mount} && exec "$0" "$@"'
    env = child_env(CGRAPH_CACHE_DIR=str(root))
    proc = subprocess.run([*prefix, "sh", "-c", command, sys.executable, str(script),
                           str(root), SOURCE % "tmpfs", CDEF],
                          env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 and "mount" in proc.stderr and "cgraph" not in proc.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    small, linker, roomy = json.loads(proc.stdout.strip().splitlines()[-1])
    for full in (small, linker):
        assert full["errno"] == errno.ENOSPC and "no space left" in full["error"]
        assert full["entries"] == 0 and full["leftovers"] == []
    assert "the compiler said" in linker["error"] and "No space left" in linker["error"]
    assert roomy["x"] == [0.0, 3.0, 6.0, 9.0] and not roomy["cached"]
    assert roomy["entries"] == 1 and roomy["leftovers"] == []
    assert not root.is_mount() and list(root.iterdir()) == []  # the namespace is gone
