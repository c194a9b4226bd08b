"""The module cache: content-hash keys, an in-process memo, a locked disk cache, loading.

Layout of the cache root (see :func:`cache_dir`)::

    <key[:2]>/<key>/source.c        the caller's C source, verbatim
                    <modname>.c     the cffi wrapper that was compiled
                    <modname><EXT>  the extension module
                    meta.json       written last: key, time, sha256 of the .so and of
                                    source.c, command
    locks/<key>.lock                one lock per key
    failed/<key>/                   the last failed build of a key, kept for inspection
    .tmp-<key>-*/, .del-*/          a build, a removal in progress (`maintenance`)
    compilers/<stamp>.txt           ``cc --version``, keyed on the compiler's stat
    index/<name[:2]>/<name>         the program index of warm starts (`load_indexed`)
    jinja/                          the templates' bytecode (`private_subdir`)

An entry is built in a temporary folder inside the root and published by one atomic
rename, so readers see no entry or a complete one. A per-key file lock makes concurrent
processes compile once. An entry whose .so or source.c does not match the hash in its
meta.json is removed and rebuilt, never loaded.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import sysconfig
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cffi
from filelock import FileLock

from cgraph.backend.build import (
    BuildOptions,
    CompileError,
    CompilerNotFoundError,
    build_module,
    check_sanitizer_runtime,
    compiler_identity,
    write_atomic,
)

# Bump whenever the way modules are built or laid out changes (e.g. build.BASE_FLAGS).
CGRAPH_BACKEND_VERSION = "3"
EXT_SUFFIX: str = sysconfig.get_config_var("EXT_SUFFIX")
_KEY_PREFIX = f"cgraph-backend {CGRAPH_BACKEND_VERSION}\0cffi {cffi.__version__}\0{EXT_SUFFIX}"
# Folders of a build in progress (<prefix><key>-<random>) and of a removal, in the root.
BUILD_PREFIX = ".tmp-"
TRASH_PREFIX = ".del-"
# Compile events (hits at DEBUG, compiles at INFO); silent unless the application
# configures logging.
log = logging.getLogger(__name__)


@dataclass
class Stats:
    """Counters of what :func:`load_module` did in this process."""

    compiles: int = 0
    disk_hits: int = 0
    memo_hits: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict (e.g. to print as JSON)."""
        return dataclasses.asdict(self)


stats = Stats()


@dataclass(frozen=True)
class LoadedModule:
    """A compiled module, loaded. ``lib`` holds the C functions declared in the cdef."""

    ffi: Any
    lib: Any
    key: str
    so_path: Path
    c_path: Path
    from_cache: bool


# Process state. Tests may clear `_memo` to force a disk lookup.
_memo: dict[tuple[str, str], LoadedModule] = {}  # (key, root) -> module
_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()
_roots: dict[tuple[str | None, str | None], Path] = {}
_fallback_root: Path | None = None
_file_digests: dict[str, tuple[tuple[int, int], str]] = {}


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Return the cache root, creating it (mode 0o700) if needed.

    The root is `path` if given (cgraph passes `config.cache_dir`), else
    ``$CGRAPH_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/cgraph``, else
    ``~/.cache/cgraph``. If it cannot be created or written, a private temporary
    folder is used for the rest of the process, with a warning that says why.

    Returns
    -------
    Path
        The folder that holds the cache entries.
    """
    if path:
        env: tuple[str | None, str | None] = (os.fspath(path), "explicit")
    else:
        env = (os.environ.get("CGRAPH_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME"))
    root = _roots.get(env)
    if root is None:
        cgraph_dir, xdg = env
        if cgraph_dir:
            configured = Path(cgraph_dir).expanduser()
        else:
            configured = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "cgraph"
        root = _roots[env] = _usable_root(configured)
    return root


#: errno values that mean "the file system is full" (quota included).
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(OSError):
    """The cache's file system filled up while a module was built or published.

    Nothing was published: the cache holds no partial entry, and a later call
    compiles again once there is room. ``errno`` is ``ENOSPC``.
    """

    def __init__(self, root: Path, detail: str):
        self.root = root
        self.message = (
            f"cgraph: no space left on the device that holds the cache {root} ({detail}); "
            "the module was not cached and nothing partial was left behind. Free some "
            "space (`python -m cgraph cache purge --older-than 30` removes entries unused for "
            "30 days, `cache clear` all of cgraph's), or set "
            "CGRAPH_CACHE_DIR to a folder on a disk with room.")
        super().__init__(errno.ENOSPC, self.message)

    def __str__(self) -> str:
        return self.message


class CacheSecurityError(RuntimeError):
    """The cache holds native code that someone else could have written: not loaded."""


def check_private(path: Path, what: str = "cache path",
                  writable_by_others_ok: bool = False) -> None:
    """Raise CacheSecurityError unless `path` is ours and not writable by others.

    Loading a shared library runs its code, so a module in a folder that another
    user can write to (or that another user owns) is never loaded.
    """
    st = path.stat()
    uid = os.geteuid()
    if st.st_uid != uid:
        raise CacheSecurityError(
            f"cgraph refuses to use the {what} {path}: it belongs to uid {st.st_uid}, not to "
            f"you (uid {uid}). Remove it, or point CGRAPH_CACHE_DIR at a folder of your own.")
    if st.st_mode & 0o022 and not writable_by_others_ok:
        raise CacheSecurityError(
            f"cgraph refuses to use the {what} {path}: other users can write to it (mode "
            f"{st.st_mode & 0o777:o}). Fix it with `chmod go-w {path}`, or point "
            "CGRAPH_CACHE_DIR at a private folder.")


def _usable_root(path: Path) -> Path:
    global _fallback_root
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {path}")
    except OSError as exc:
        if _fallback_root is None:
            _fallback_root = Path(tempfile.mkdtemp(prefix="cgraph-cache-"))
        message = f"cgraph: cannot use cache dir {path} ({exc}); using {_fallback_root}"
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return _fallback_root
    check_private(path, "cache directory")
    return path


def private_subdir(name: str, root: str | None = None) -> Path | None:
    """A folder `name` inside the cache root for cgraph's other caches (the templates'
    bytecode), created 0700 like the root; None if it cannot be created or is not
    private (it then goes unused: such caches only save time).

    Parameters
    ----------
    name : str
        The folder's name, e.g. ``"jinja"``.
    root : str, optional
        The cache folder (default: see :func:`cache_dir`).
    """
    folder = cache_dir(root) / name
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        check_private(folder, "cache folder")
    except (OSError, CacheSecurityError):
        return None
    return folder


def load_module(
    source: str, cdef: str, options: BuildOptions, depends: tuple[str, ...] = (),
    root: str | None = None, key_text: str | None = None,
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
    key = _cache_key(source if key_text is None else key_text, cdef, options, depends, root)
    # Per root, so that a module asked for in a cache folder is in that folder.
    memo_key = (key, str(root))
    hit = _memo.get(memo_key)
    if hit is None:
        with _thread_lock(key):
            hit = _memo.get(memo_key)
            if hit is None:
                try:
                    loaded = _load_or_build(source, cdef, options, key, root)
                except OSError as exc:
                    if exc.errno not in _DISK_FULL or isinstance(exc, DiskFullError):
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
    Python ABI, cffi, backend version), so a cache shared by machines never hands one
    another's module. The entry is verified exactly as by :func:`load_module`.
    """
    check_sanitizer_runtime(options)
    root = cache_dir(root)
    try:
        key = _index_path(index_key, options, root).read_text().strip()
    except OSError:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        return None
    memo_key = (key, str(root))
    hit = _memo.get(memo_key)
    if hit is not None:
        stats.memo_hits += 1
        log.debug("cgraph: module %s already loaded in this process", hit.so_path)
        return hit
    entry = root / key[:2] / key
    meta = _verified_meta(entry, key)
    if meta is None:
        return None
    with _thread_lock(key):
        hit = _memo.get(memo_key)
        if hit is None:
            hit = _memo[memo_key] = _import(entry, meta, from_cache=True)
            stats.disk_hits += 1
            log.debug("cgraph: cache hit (program index): %s", entry)
    return hit


def record_index(index_key: str, module: LoadedModule, options: BuildOptions,
                 root: str | None = None) -> None:
    """Remember that `index_key` names `module`, built with `options` (see
    :func:`load_indexed`)."""
    path = _index_path(index_key, options, cache_dir(root))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, module.key)
    except OSError:
        pass  # the index only saves time


def _index_path(index_key: str, options: BuildOptions, root: Path) -> Path:
    text = "\0".join([*_identity(options, root), str(len(index_key)), index_key])
    name = hashlib.sha256(text.encode()).hexdigest()
    return root / "index" / name[:2] / name


def _identity(options: BuildOptions, root: Path) -> list[str]:
    """What decides a module's machine code besides its source: the backend and cffi
    versions, the Python ABI, the host CPU (for -march=native), the compiler and every
    option (repr lists every field)."""
    return [
        _KEY_PREFIX,
        host_cpu() if any("native" in flag for flag in options.cflags) else "",
        compiler_identity(options.cc, root / "compilers"),
        repr(options),
    ]


def _cache_key(
    source: str, cdef: str, options: BuildOptions, depends: tuple[str, ...], root: Path
) -> str:
    # One join and one hash, since this runs on every call, memo hits included.
    # The lengths make the joined text unambiguous.
    parts = [
        *_identity(options, root),
        str(len(source)),
        source,
        str(len(cdef)),
        cdef,
        *(_file_digest(os.fspath(path)) for path in depends),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@functools.cache
def host_cpu() -> str:
    """This machine's CPU model and instruction-set flags, digested.

    Part of the key of modules built with -march=native, so that a cache shared by
    machines with different CPUs never loads code with instructions a CPU lacks.
    """
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features"))]
        text = "".join(sorted(set(lines)))
    except OSError:
        text = ""
    text = text or f"{platform.machine()} {platform.processor()}"
    return "cpu " + hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_digest(path: str) -> str:
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _file_digests.get(path)
    if cached is None or cached[0] != stamp:
        cached = _file_digests[path] = (stamp, hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return cached[1]


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


def _file_lock(root: Path, key: str) -> FileLock:
    lock_dir = root / "locks"
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return FileLock(lock_dir / f"{key}.lock")


def _load_or_build(
    source: str, cdef: str, options: BuildOptions, key: str, root: Path
) -> LoadedModule:
    """Check the entry, take the key's lock, check again, build: one compile in total."""
    entry = root / key[:2] / key
    meta = _verified_meta(entry, key)
    if meta is None:
        log.debug("cgraph: cache miss: %s", entry)
        with _file_lock(root, key):
            meta = _verified_meta(entry, key)
            if meta is None:
                if entry.exists():
                    _remove_dir(entry, root)  # corrupt or incomplete: never load it
                _build_entry(source, cdef, options, key, root, entry)
                meta = _verified_meta(entry, key)
                if meta is None:
                    raise RuntimeError(f"cgraph: cache entry {entry} is invalid after build")
                return _import(entry, meta, from_cache=False)
    stats.disk_hits += 1
    log.debug("cgraph: cache hit: %s", entry)
    return _import(entry, meta, from_cache=True)


def _verified_meta(entry: Path, key: str) -> dict[str, Any] | None:
    """meta.json of ``entry`` if it parses and the .so and source.c match their hashes,
    else None. (source.c is not compiled again, but `Function.c_source` and `export_c`
    read it back, so a damaged copy must not be served either.)"""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        so_sha256 = hashlib.sha256((entry / meta["so_name"]).read_bytes()).hexdigest()
        source_sha256 = hashlib.sha256((entry / "source.c").read_bytes()).hexdigest()
        if (meta["key"] != key or so_sha256 != meta["so_sha256"]
                or source_sha256 != meta["source_sha256"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def _build_entry(
    source: str, cdef: str, options: BuildOptions, key: str, root: Path, entry: Path
) -> None:
    modname = f"_cg_{key[:20]}"
    # The key in the name tells `maintenance` whose lock guards the folder.
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f"{BUILD_PREFIX}{key}-"))
    try:
        stats.compiles += 1
        started = time.perf_counter()
        try:
            command = build_module(source, cdef, options, modname, tmp)
        except CompilerNotFoundError:
            raise
        except CompileError as exc:
            if "No space left on device" in exc.stderr:  # the compiler could not write
                line = next(ln for ln in exc.stderr.splitlines() if "No space left" in ln)
                raise DiskFullError(root, f"the compiler said: {line.strip()}") from None
            failed = exc.moved_to(_keep_failed(tmp, root, key))
            log.info("cgraph: compilation failed after %.2f s: %s",
                     time.perf_counter() - started, failed.c_path)
            raise failed from None
        log.info("cgraph: compiled %s in %.2f s (%d bytes of C): %s", modname,
                 time.perf_counter() - started, len(source), entry)
        log.debug("cgraph: compile command: %s", " ".join(command))
        so_name = modname + EXT_SUFFIX
        meta = {
            "key": key,
            "created": time.time(),
            "module": modname,
            "so_name": so_name,
            "so_sha256": hashlib.sha256((tmp / so_name).read_bytes()).hexdigest(),
            "source_sha256": hashlib.sha256((tmp / "source.c").read_bytes()).hexdigest(),
            "source_len": len(source),
            "command": command,
        }
        write_atomic(tmp / "meta.json", json.dumps(meta, indent=1))
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.replace(tmp, entry)
        except OSError:
            if not entry.exists():
                raise  # a real failure, not another process that published first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_failed(tmp: Path, root: Path, key: str) -> Path:
    """Move a failed build folder to ``<root>/failed/<key>``; return where it is."""
    failed = root / "failed" / key
    if failed.exists():
        _remove_dir(failed, root)
    failed.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(tmp, failed)
    return failed


def _remove_dir(path: Path, root: Path) -> None:
    """Remove ``path``, renaming it away first so that nobody sees it half-deleted."""
    trash = Path(tempfile.mkdtemp(dir=root, prefix=TRASH_PREFIX))
    try:
        os.replace(path, trash / "x")
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _import(entry: Path, meta: dict[str, Any], from_cache: bool) -> LoadedModule:
    so_path = entry / meta["so_name"]
    # The folders must be private; the module inside them must be ours (its own mode
    # follows the umask, and a private folder already keeps others from replacing it).
    for path in (entry.parent, entry):
        check_private(path, "cache entry")
    check_private(so_path, "cached module", writable_by_others_ok=True)
    spec = importlib.util.spec_from_file_location(meta["module"], so_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cgraph: cannot load {so_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        os.utime(entry)  # the entry's mtime is its last use (`cache_purge`)
    except OSError:
        pass
    c_path = entry / "source.c"
    return LoadedModule(module.ffi, module.lib, meta["key"], so_path, c_path, from_cache)
