"""Getting a module: from this process's memo, else from the disk cache, else built.

:func:`load_module` compiles a C translation unit at most once per key across
processes (`identity` makes the key, `store` keeps the entries on disk, `index` maps
cheaper names to keys). Within a process, a module is loaded once and memoized, and a
per-key thread lock makes concurrent threads wait for one build.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable

from cgraph.backend.build import BuildOptions, check_sanitizer_runtime
from cgraph.backend.identity import module_key
from cgraph.backend.index import read_index, write_index
from cgraph.backend.store import (
    DISK_FULL,
    DiskFullError,
    LoadedModule,
    cache_dir,
    import_entry,
    load_or_build,
    stats,
    verified_meta,
)

__all__ = ["load_indexed", "load_module", "record_index"]

log = logging.getLogger(__name__)

# Process state. Tests may clear `_memo` to force a disk lookup.
_memo: dict[tuple[str, str], LoadedModule] = {}  # (key, root) -> module
_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()


def load_module(
    source: str, cdef: str, options: BuildOptions, depends: tuple[str, ...] = (),
    root: str | None = None, key_text: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> LoadedModule:
    """Compile a C translation unit into a cffi module, or load it from the cache.

    Parameters
    ----------
    source : str
        A complete C translation unit; it includes its own headers.
    cdef : str
        cffi declarations of the entry function(s), e.g.
        ``"int cg_ab12_run(const int64_t *P, char *err, void *a0);"``.
    options : BuildOptions
        Compiler, flags, include and library settings.
    depends : tuple of str
        Header files whose contents enter the cache key.
    root : str, optional
        The cache folder (default: see :func:`cache_dir`).
    key_text : str, optional
        What stands for `source` in the cache key (default: `source` itself). A
        caller whose source carries text that does not change the machine code, such
        as the user's line numbers in comments, passes a description without it; the
        entry then keeps the source of the first build.
    meanwhile : callable, optional
        Work of the caller's to do while the compiler runs, if it runs (cgraph
        prepares the function's warm-start record): called once every compile has
        started, with no argument.

    Returns
    -------
    LoadedModule
        ``from_cache`` is True when no compiler ran in this call. Later calls with the
        same inputs return one memoized object sharing ``ffi`` and ``lib``.

    Raises
    ------
    CompilerNotFoundError
        If there is no module to load and the compiler cannot be run.
    CompileError
        If the compiler fails; the failed build is kept under ``<root>/failed/<key>``.
    DiskFullError
        If the cache's disk fills up meanwhile; no entry is left behind.
    SanitizerRuntimeError
        If `options` build with AddressSanitizer and its runtime was not preloaded
        (checked before compiling).
    """
    check_sanitizer_runtime(options)
    root = cache_dir(root)
    key = module_key(source if key_text is None else key_text, cdef, options, depends, root)
    # Per root, so that a module asked for in a cache folder is in that folder.
    memo_key = (key, str(root))
    hit = _memo.get(memo_key)
    if hit is None:
        with _thread_lock(key):
            hit = _memo.get(memo_key)
            if hit is None:
                try:
                    loaded = load_or_build(source, cdef, options, key, root, meanwhile)
                except OSError as exc:
                    if exc.errno not in DISK_FULL or isinstance(exc, DiskFullError):
                        raise
                    raise DiskFullError(root, f"{type(exc).__name__}: {exc}") from exc
                _memo[memo_key] = dataclasses.replace(loaded, from_cache=True)
                return loaded
    stats.memo_hits += 1
    log.debug("cgraph: module %s already loaded in this process", hit.so_path)
    return hit


def load_indexed(index_key: str, options: BuildOptions,
                 root: str | None = None) -> LoadedModule | None:
    """The module recorded under `index_key` by :func:`record_index`, or None.

    The index lets a caller that can name its module more cheaply than by rendering
    its source (cgraph names a lowered program) skip the rendering on a warm start.
    It is keyed like the entries themselves: on `index_key` and on everything but the
    source that makes a module's key (compiler, host CPU for native builds, `options`,
    Python ABI, the module format, cgraph's version), so a cache shared by machines never hands one
    another's module. The entry is verified exactly as by :func:`load_module`.
    """
    check_sanitizer_runtime(options)
    root = cache_dir(root)
    key = read_index(index_key, options, root)
    if key is None:
        return None
    memo_key = (key, str(root))
    hit = _memo.get(memo_key)
    if hit is not None:
        stats.memo_hits += 1
        log.debug("cgraph: module %s already loaded in this process", hit.so_path)
        return hit
    entry = root / key[:2] / key
    meta = verified_meta(entry, key)
    if meta is None:
        return None
    with _thread_lock(key):
        hit = _memo.get(memo_key)
        if hit is None:
            hit = _memo[memo_key] = import_entry(entry, meta, from_cache=True)
            stats.disk_hits += 1
            log.debug("cgraph: cache hit (program index): %s", entry)
    return hit


def record_index(index_key: str, module: LoadedModule, options: BuildOptions,
                 root: str | None = None) -> None:
    """Remember that `index_key` names `module`, built with `options` (see
    :func:`load_indexed`)."""
    write_index(index_key, module.key, options, cache_dir(root))


def _thread_lock(key: str) -> threading.Lock:
    with _key_locks_guard:
        return _key_locks.setdefault(key, threading.Lock())


def _forget_thread_locks() -> None:
    """In a child made by `os.fork`: the parent's other threads are gone, and a lock
    one of them held would stay held there for ever; the file locks still order the
    child's builds with the parent's."""
    global _key_locks_guard
    _key_locks_guard = threading.Lock()
    _key_locks.clear()


os.register_at_fork(after_in_child=_forget_thread_locks)
