"""The cache folder on disk: where it is, its privacy, and its entries.

Layout of the cache root (see :func:`cache_dir`)::

    <key[:2]>/<key>/source.c        the caller's C source, verbatim
                    cg_exports.h    the cdef's declarations it was compiled with
                    <modname><EXT>  the module: a shared object exporting the cdef
                    <modname>.py    cffi's FFI of the cdef, which opens it
                    meta.json       written last: key, time, sha256 of the .so, of
                                    source.c and of the .py, command
    locks/<key>.lock                one lock per key
    failed/<key>/                   the last failed build of a key, kept for inspection
    .tmp-<key>-*/, .del-*/          a build, a removal in progress (`maintenance`)
    compilers/<stamp>.txt           ``cc --version``, keyed on the compiler's stat
    index/<name[:2]>/<name>         the program index of warm starts (`index`)
    jinja/                          the templates' bytecode (`private_subdir`)

An entry is built in a temporary folder inside the root and published by one atomic
rename, so readers see no entry or a complete one. A per-key file lock makes concurrent
processes compile once. An entry whose .so or source.c does not match the hash in its
meta.json is removed and rebuilt, never loaded.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from cgraph.backend.build import (
    BuildOptions,
    CompileError,
    CompilerNotFoundError,
    build_module,
    write_atomic,
)
from cgraph.backend.identity import EXT_SUFFIX

__all__ = ["BUILD_PREFIX", "DISK_FULL", "TRASH_PREFIX", "CacheSecurityError", "DiskFullError",
           "LoadedModule", "Stats", "cache_dir", "check_private", "file_lock", "import_entry",
           "load_or_build", "open_module", "private_subdir", "remove_dir", "stats", "verified_meta"]

# Folders of a build in progress (<prefix><key>-<random>) and of a removal, in the root.
BUILD_PREFIX = ".tmp-"
TRASH_PREFIX = ".del-"
# Compile events (hits at DEBUG, compiles at INFO); silent unless the application
# configures logging.
log = logging.getLogger("cgraph.backend.cache")


@dataclass
class Stats:
    """Counters of what :func:`load_module` did in this process."""

    compiles: int = 0
    disk_hits: int = 0
    memo_hits: int = 0
    compile_seconds: float = 0.0  # the compiler's time, in seconds, failures included

    def as_dict(self) -> dict[str, float]:
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


_roots: dict[tuple[str | None, str | None], Path] = {}
_fallback_root: Path | None = None


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
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


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


def file_lock(root: Path, key: str) -> FileLock:
    """The file lock of `key` in `root`: whoever holds it builds or removes that entry."""
    lock_dir = root / "locks"
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return FileLock(lock_dir / f"{key}.lock")


def load_or_build(
    source: str, cdef: str, options: BuildOptions, key: str, root: Path,
    meanwhile: Callable[[], None] | None = None,
) -> LoadedModule:
    """Check the entry, take the key's lock, check again, build: one compile in total
    (`meanwhile`: see `cache.load_module`)."""
    entry = root / key[:2] / key
    meta = verified_meta(entry, key)
    if meta is None:
        log.debug("cgraph: cache miss: %s", entry)
        with file_lock(root, key):
            meta = verified_meta(entry, key)
            if meta is None:
                if entry.exists():
                    remove_dir(entry, root)  # corrupt or incomplete: never load it
                build_entry(source, cdef, options, key, root, entry, meanwhile)
                meta = verified_meta(entry, key)
                if meta is None:
                    raise RuntimeError(f"cgraph: cache entry {entry} is invalid after build")
                return import_entry(entry, meta, from_cache=False)
    stats.disk_hits += 1
    log.debug("cgraph: cache hit: %s", entry)
    return import_entry(entry, meta, from_cache=True)


def verified_meta(entry: Path, key: str) -> dict[str, Any] | None:
    """meta.json of ``entry`` if it parses and the .so, source.c and the FFI's .py match
    their hashes, else None. (source.c is not compiled again, but `Function.c_source`
    and `export_c` read it back, so a damaged copy must not be served either.)"""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        so_sha256 = hashlib.sha256((entry / meta["so_name"]).read_bytes()).hexdigest()
        source_sha256 = hashlib.sha256((entry / "source.c").read_bytes()).hexdigest()
        ffi_sha256 = hashlib.sha256((entry / f"{meta['module']}.py").read_bytes()).hexdigest()
        if (meta["key"] != key or so_sha256 != meta["so_sha256"]
                or source_sha256 != meta["source_sha256"] or ffi_sha256 != meta["ffi_sha256"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def build_entry(
    source: str, cdef: str, options: BuildOptions, key: str, root: Path, entry: Path,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Build the module in a temporary folder of `root` and publish it as `entry` (the
    caller holds the key's lock); a failed build is kept under ``failed/<key>``."""
    modname = f"_cg_{key[:20]}"
    # The key in the name tells `maintenance` whose lock guards the folder.
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f"{BUILD_PREFIX}{key}-"))
    try:
        stats.compiles += 1
        started = time.perf_counter()
        try:
            command = build_module(source, cdef, options, modname, tmp, meanwhile)
        except CompilerNotFoundError:
            raise
        except CompileError as exc:
            if "No space left on device" in exc.stderr:  # the compiler could not write
                line = next(ln for ln in exc.stderr.splitlines() if "No space left" in ln)
                raise DiskFullError(root, f"the compiler said: {line.strip()}") from None
            failed = exc.moved_to(keep_failed(tmp, root, key))
            log.info("cgraph: compilation failed after %.2f s: %s",
                     time.perf_counter() - started, failed.c_path)
            raise failed from None
        finally:
            stats.compile_seconds += time.perf_counter() - started
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
            "ffi_sha256": hashlib.sha256((tmp / f"{modname}.py").read_bytes()).hexdigest(),
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


def keep_failed(tmp: Path, root: Path, key: str) -> Path:
    """Move a failed build folder to ``<root>/failed/<key>``; return where it is."""
    failed = root / "failed" / key
    if failed.exists():
        remove_dir(failed, root)
    failed.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(tmp, failed)
    return failed


def remove_dir(path: Path, root: Path) -> None:
    """Remove ``path``, renaming it away first so that nobody sees it half-deleted."""
    trash = Path(tempfile.mkdtemp(dir=root, prefix=TRASH_PREFIX))
    try:
        os.replace(path, trash / "x")
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def import_entry(entry: Path, meta: dict[str, Any], from_cache: bool) -> LoadedModule:
    """Load the verified entry's module, refusing folders or files others could write.

    The module is opened with cffi's ABI mode by the FFI built with it (see
    `open_module`)."""
    so_path = entry / meta["so_name"]
    # The folders must be private; the module inside them must be ours (its own mode
    # follows the umask, and a private folder already keeps others from replacing it).
    for path in (entry.parent, entry):
        check_private(path, "cache entry")
    check_private(so_path, "cached module", writable_by_others_ok=True)
    ffi, lib = open_module(so_path, entry / f"{meta['module']}.py")
    try:
        os.utime(entry)  # the entry's mtime is its last use (`cache_purge`)
    except OSError:
        pass
    c_path = entry / "source.c"
    return LoadedModule(ffi, lib, meta["key"], so_path, c_path, from_cache)


def open_module(so_path: Path, ffi_path: Path) -> tuple[Any, Any]:
    """``(ffi, lib)`` of the shared object `so_path`, opened by the FFI in `ffi_path`
    (cffi's out-of-line ABI mode, both written by `build_module`); OSError if it cannot
    be opened (missing, or a symbol it needs is nowhere). The FFI is cffi's in C, made
    from the type tables in the file without parsing C: a new process opens a module in
    about 0.5 ms, where parsing its cdef took 1-10 ms (pycparser).

    The object stays mapped for the process's life (RTLD_NODELETE), like an imported
    extension module, even once `lib` is collected: addresses of its functions outlive
    it (the C call path's tables), as do Python objects whose code or method tables are
    in it (the C call path's callers: unmapped at exit, Python's last collection
    crashed on them)."""
    namespace: dict[str, Any] = {}
    exec(compile(ffi_path.read_bytes(), str(ffi_path), "exec"), namespace)  # noqa: S102
    ffi = namespace["ffi"]
    flags = ffi.RTLD_NOW | ffi.RTLD_LOCAL | getattr(ffi, "RTLD_NODELETE", 0)
    return ffi, ffi.dlopen(str(so_path), flags)
