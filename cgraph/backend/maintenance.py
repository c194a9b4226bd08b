"""Looking after the cache folder: listing, clearing and purging entries, and removing
what killed processes left behind.

A process killed while it builds leaves its build folder (``.tmp-<key>-*``) in the
cache root, one killed while it removes an entry a ``.del-*`` folder, and one killed
while it writes an index or compiler record a ``.tmp-*`` file; nothing else ever
removes them. :func:`cache_info` counts these leftovers; :func:`cache_remove_stale`
removes them, and :func:`cache_clear` and :func:`cache_purge` call it. A leftover is
stale once it is older than :data:`STALE_AFTER` and, for a build folder, no process
holds its key's lock: a build in progress is never touched, however long it takes.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import Timeout

from cgraph.backend.store import BUILD_PREFIX, TRASH_PREFIX, cache_dir, file_lock, remove_dir

__all__ = ["STALE_AFTER", "cache_clear", "cache_info", "cache_list", "cache_purge",
           "cache_remove_stale"]

#: Seconds after which a leftover whose lock is free counts as stale.
STALE_AFTER = 600.0

_ENTRY_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}")
_BUILD_NAME = re.compile(re.escape(BUILD_PREFIX) + r"([0-9a-f]{64})-.*")
log = logging.getLogger("cgraph.backend.cache")


def _entry_dirs(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.glob("*/*")
        if path.is_dir() and _ENTRY_NAME.fullmatch(f"{path.parent.name}/{path.name}")
    )


def _size(path: Path) -> int:
    if not path.is_dir():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file())


def cache_list(root: str | None = None) -> list[dict[str, Any]]:
    """List the cache entries.

    Parameters
    ----------
    root : str, optional
        The cache folder (default: see :func:`cache_dir`).

    Returns
    -------
    list of dict
        One dict per entry, sorted by key: ``key``, ``created`` and ``last_used``
        (seconds since the epoch; last use is the last time a process loaded it),
        ``size`` (bytes), ``path`` and ``source`` (its C file, for reading).
    """
    entries = []
    for path in _entry_dirs(cache_dir(root)):
        try:
            created = float(json.loads((path / "meta.json").read_text())["created"])
            last_used = max(created, path.stat().st_mtime)
            size = _size(path)
        except FileNotFoundError:
            continue  # removed meanwhile by another process
        except (OSError, ValueError, KeyError, TypeError):
            created = last_used = path.stat().st_mtime
            size = _size(path)
        entries.append({"key": path.name, "created": created, "last_used": last_used,
                        "size": size, "path": str(path), "source": str(path / "source.c")})
    return entries


def _leftovers(root: Path) -> Iterator[Path]:
    """Every build or removal folder in `root`, and the temporary files of records."""
    for path in root.iterdir():
        if path.name.startswith((BUILD_PREFIX, TRASH_PREFIX)):
            yield path
    for folder in (root / "compilers", *(root / "index").glob("*"),
                   *(root / "records").glob("*")):
        yield from folder.glob(f"{BUILD_PREFIX}*")


def _if_stale(root: Path, path: Path, now: float, remove: bool) -> int | None:
    """The size of `path` if it is a stale leftover (then removed, with `remove`), else
    None. A build folder is checked and removed under its key's lock, so that no build
    of that key can start meanwhile."""
    try:
        if now - path.lstat().st_mtime <= STALE_AFTER:
            return None
        size = _size(path)
    except FileNotFoundError:
        return None  # removed meanwhile
    match = _BUILD_NAME.fullmatch(path.name) if path.parent == root else None
    if match is None:
        if remove:
            _remove(path)
        return size
    try:
        with file_lock(root, match.group(1)).acquire(timeout=0):
            if remove:
                _remove(path)
    except Timeout:
        return None  # its build is in progress
    return size


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _stale(root: str | None, now: float | None, remove: bool) -> list[int]:
    folder = cache_dir(root)
    now = time.time() if now is None else now
    sizes = (_if_stale(folder, path, now, remove) for path in list(_leftovers(folder)))
    return [size for size in sizes if size is not None]


def cache_remove_stale(root: str | None = None, now: float | None = None) -> int:
    """Remove what killed processes left in the cache (see the module's docstring).

    Parameters
    ----------
    root : str, optional
        The cache folder (default: see :func:`cache_dir`).
    now : float, optional
        The current time (seconds since the epoch), for tests.

    Returns
    -------
    int
        The number of leftovers removed.
    """
    removed = len(_stale(root, now, remove=True))
    if removed:
        log.info("cgraph: removed %d stale build folders from %s", removed, cache_dir(root))
    return removed


def cache_info(root: str | None = None) -> dict[str, Any]:
    """Summarize the cache.

    Returns
    -------
    dict
        ``path`` of the root, ``n_entries``, ``total_bytes`` of the entries, and
        ``n_stale_builds`` and ``stale_bytes``: the leftovers of killed processes that
        :func:`cache_remove_stale` would remove.
    """
    entries = cache_list(root)
    total = sum(entry["size"] for entry in entries)
    stale = _stale(root, None, remove=False)
    return {"path": str(cache_dir(root)), "n_entries": len(entries), "total_bytes": total,
            "n_stale_builds": len(stale), "stale_bytes": sum(stale)}


def _remove_entry(root: Path, path: Path) -> bool:
    with file_lock(root, path.name):
        if path.exists():
            remove_dir(path, root)
            return True
    return False


def cache_clear(root: str | None = None) -> int:
    """Remove every cache entry (each under its lock), the kept failed builds, the
    program index, the warm-start records and the stale leftovers of killed processes.

    Modules already loaded in this process stay usable and stay memoized; builds in
    progress are not disturbed.

    Returns
    -------
    int
        The number of entries removed.
    """
    folder = cache_dir(root)
    removed = sum(_remove_entry(folder, path) for path in _entry_dirs(folder))
    shutil.rmtree(folder / "failed", ignore_errors=True)
    shutil.rmtree(folder / "index", ignore_errors=True)
    shutil.rmtree(folder / "records", ignore_errors=True)
    cache_remove_stale(root)
    log.info("cgraph: removed %d cache entries from %s", removed, folder)
    return removed


def cache_purge(older_than: float | None = None, max_bytes: int | None = None,
                root: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """Remove the stale leftovers of killed processes, the entries unused for
    `older_than` seconds, then the least recently used ones until the cache holds at
    most `max_bytes`.

    A process that still needs a removed module compiles it again; modules already
    loaded stay usable.

    Parameters
    ----------
    older_than : float, optional
        Age in seconds since an entry was last loaded.
    max_bytes : int, optional
        The size to shrink the cache to.
    now : float, optional
        The current time (seconds since the epoch), for tests.

    Returns
    -------
    list of dict
        The entries removed (as listed by :func:`cache_list`).
    """
    folder = cache_dir(root)
    now = time.time() if now is None else now
    cache_remove_stale(root, now)
    entries = sorted(cache_list(root), key=lambda e: e["last_used"])  # oldest first
    doomed = [e for e in entries if older_than is not None
              and now - e["last_used"] > older_than]
    if max_bytes is not None:
        kept = [e for e in entries if e not in doomed]
        total = sum(e["size"] for e in kept)
        for entry in kept:
            if total <= max_bytes:
                break
            doomed.append(entry)
            total -= entry["size"]
    removed = [e for e in doomed if _remove_entry(folder, Path(e["path"]))]
    if removed:
        # The program index may name removed entries: load_indexed then finds no
        # valid entry and the caller compiles again, so the index needs no cleaning.
        log.info("cgraph: purged %d cache entries from %s", len(removed), folder)
    return removed
