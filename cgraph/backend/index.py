"""The program index: a name a caller can compute cheaply, mapped to a module's key.

cgraph names a lowered program without rendering its C; on a warm start the index
turns that name into the key of the module built from it, so rendering is skipped.
Each record is a file ``index/<name[:2]>/<name>`` holding the key, where the name is
keyed on the same identity as the modules (`identity.index_name`), so a cache shared
by machines never hands one another's module.
"""

from __future__ import annotations

import re
from pathlib import Path

from cgraph.backend.build import BuildOptions, write_atomic
from cgraph.backend.identity import index_name

__all__ = ["read_index", "write_index"]

_KEY = re.compile(r"[0-9a-f]{64}")


def _path(index_key: str, options: BuildOptions, root: Path) -> Path:
    name = index_name(index_key, options, root)
    return root / "index" / name[:2] / name


def read_index(index_key: str, options: BuildOptions, root: Path) -> str | None:
    """The module key recorded for `index_key` and `options` in `root`, or None."""
    try:
        key = _path(index_key, options, root).read_text().strip()
    except OSError:
        return None
    return key if _KEY.fullmatch(key) else None


def write_index(index_key: str, key: str, options: BuildOptions, root: Path) -> None:
    """Record that `index_key` built with `options` names the module `key` (a failure to
    write is ignored: the index only saves time)."""
    path = _path(index_key, options, root)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, key)
    except OSError:
        pass
