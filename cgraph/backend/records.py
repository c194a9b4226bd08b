"""Records: bytes a caller keeps in the cache under a name it computes, checked on read.

cgraph keeps here what a warm start needs besides the module (the rewritten graph and
its lowered program, `cgraph.compile.warm`), so that a new process skips the work that
made them. Each record is a file ``records/<name[:2]>/<name>``: a magic tag, the
sha256 of the payload, then the payload. The name is keyed on the same identity as the
modules (`identity.index_name`: compiler, host CPU for native builds, options, Python
ABI, the module format, cgraph's version), so a cache shared by machines never hands one another's
record. A record whose digest does not match (truncated, corrupted) reads as absent;
writing goes through a temporary file and a rename, so readers see the old record or
the whole new one. A failure to write is ignored: records only save time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from cgraph.backend.build import BuildOptions
from cgraph.backend.identity import index_name

__all__ = ["read_record", "write_record"]

_MAGIC = b"cgraph-record-1\n"
_DIGEST = 32


def _path(key: str, options: BuildOptions, root: Path) -> Path:
    name = index_name("record\0" + key, options, root)
    return root / "records" / name[:2] / name


def read_record(key: str, options: BuildOptions, root: Path) -> bytes | None:
    """The payload recorded under `key` and `options` in `root`, or None when there is
    none or it fails its digest."""
    try:
        data = _path(key, options, root).read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + _DIGEST
    if len(data) < head or not data.startswith(_MAGIC):
        return None
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(_MAGIC):head]:
        return None
    return payload


def write_record(key: str, payload: bytes, options: BuildOptions, root: Path) -> None:
    """Record `payload` under `key` and `options` in `root`, atomically."""
    path = _path(key, options, root)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
