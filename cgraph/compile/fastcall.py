"""The C call path: `Function.__call__` without Python in the common case.

`csrc/cg_fastcall.h` checks the arguments, looks up the plan, allocates the outputs
and calls the kernels, against the CPython and numpy C APIs. It is compiled once per
machine (and cached like any module) into a small module whose one function returns
the factory `make_caller`. `make_caller` here gives it one module's entry
point and the `Signature` its argument checks come from.

The C path handles only what is common; everything else (the first call of a shape,
an update that changes a shape, arguments needing conversion to a dtype it cannot
cast, a function bigger than its tables) goes to the Python path it is given, which
stays the reference behaviour. Without a usable factory (no numpy headers, a build
failure), Python's path is used.

The module compiled when cgraph was installed (`backend.prebuilt`, `prebuild`) is
loaded instead of a build when it was compiled so (same compiler, options, headers).
The factory is built in a thread of its own, alongside the function's module. A fork
(`os.fork`, multiprocessing's default on Linux) waits for a build in progress; the
child keeps the factories built before it and builds any other itself.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from cgraph import backend
from cgraph.backend.build import MODULE_FORMAT, build_module
from cgraph.backend.identity import EXT_SUFFIX, file_digest
from cgraph.backend.prebuilt import lookup, prebuilt_key
from cgraph.compile.signature import Signature
from cgraph.compile.toolchain import call_path_headers, call_path_options

log = logging.getLogger(__name__)

_SOURCE = """\
#include "cg_fastcall.h"

/* Returns a new reference to the factory (cffi calls this without the GIL). */
void *cg_fastcall_make(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *factory = cg_fastcall_factory();
    if (!factory)
        PyErr_Clear();
    PyGILState_Release(gil);
    return factory;
}
"""
_CDEF = "void *cg_fastcall_make(void);"


_built: dict[tuple, Any] = {}  # key -> the factory (or None), set by the finished build
_builds: dict[tuple, Future] = {}
_builds_lock = threading.Lock()
_THREAD_NAME = "cgraph-fastcall"
_FORK_WAIT = 120.0


def start(cc: str, root: str | None, sanitize: bool = False) -> Future:
    """Get `factory(cc, root, sanitize)` going in a thread of its own (which ends with
    the build): on a cold start it compiles while the function's own module compiles,
    on another core."""
    # By the folder it resolves to now: a process may point CGRAPH_CACHE_DIR
    # elsewhere, and each cache should hold the module its functions use.
    key = (cc, str(backend.cache_dir(root)), sanitize)
    with _builds_lock:
        future = _builds.get(key)
        if future is None:
            future = _builds[key] = Future()
            threading.Thread(target=_build, args=(key, future), name=_THREAD_NAME).start()
    return future


def factory(cc: str, root: str | None, sanitize: bool = False) -> Any:
    """`make_caller`, or None when the C path cannot be built here (`sanitize`: built
    with AddressSanitizer and UBSan, like the modules of `config.sanitize`)."""
    return start(cc, root, sanitize).result()


def _build(key: tuple, future: Future) -> None:
    try:
        value = _built[key] = _factory(*key)
    except BaseException as err:
        future.set_exception(err)
    else:
        future.set_result(value)


def _before_fork() -> None:
    """Let a build in progress finish (for at most `_FORK_WAIT` seconds) before a fork:
    the child would inherit the locks it holds (the import system's, the cache's)
    held by a thread the child does not have."""
    if threading.current_thread().name == _THREAD_NAME:
        return  # the build itself forks: it cannot wait for itself
    for future in list(_builds.values()):
        try:
            future.result(timeout=_FORK_WAIT)
        except Exception:  # the future keeps it: `factory` raises it
            pass


def _after_fork_in_child() -> None:
    """Forget the parent's lock and unfinished builds (their thread is not in the
    child, so they would never finish); keep the factories it had built."""
    global _builds_lock, _builds
    _builds_lock = threading.Lock()
    _builds = {}
    for key, value in list(_built.items()):
        _builds[key] = Future()
        _builds[key].set_result(value)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def installed_key(options: backend.BuildOptions) -> str:
    """The key of the module built with `options` at install time (`backend.prebuilt`)."""
    digests = [file_digest(path) for path in call_path_headers()]
    return prebuilt_key(options, options.cc, "fastcall", MODULE_FORMAT, _SOURCE, _CDEF,
                        *digests)


def build_installed(options: backend.BuildOptions, modname: str, folder: Path) -> Path:
    """Compile the module as `factory` does, into `folder` (empty) as `modname`, for the
    install-time files (`prebuild`); return the module's path."""
    build_module(_SOURCE, _CDEF, options, modname, folder)
    return folder / (modname + EXT_SUFFIX)


def _load_installed(options: backend.BuildOptions) -> int | None:
    """The address of `cg_fastcall_make` in the install-time module built with
    `options`, or None (none, or it does not load). Opened with ctypes: its one function
    needs no FFI, and a module stays mapped for the process's life (RTLD_NODELETE: the
    callers it makes are Python objects whose code is in it)."""
    path = lookup(installed_key(options))
    if path is None:
        return None
    mode = os.RTLD_NOW | os.RTLD_LOCAL | getattr(os, "RTLD_NODELETE", 0)
    try:
        return ctypes.cast(ctypes.CDLL(str(path), mode=mode).cg_fastcall_make,
                           ctypes.c_void_p).value
    except (OSError, AttributeError) as err:
        log.debug("cgraph: the install-time call path %s does not load (%s)", path, err)
        return None


def _factory(cc: str, root: str | None, sanitize: bool) -> Any:
    options = call_path_options(cc, sanitize)
    make = _load_installed(options)
    if make is None:
        try:
            module = backend.load_module(_SOURCE, _CDEF, options,
                                         depends=call_path_headers(), root=root)
        except (backend.CompileError, backend.CompilerNotFoundError, OSError) as err:
            log.warning("cgraph: the C call path is unavailable (%s); calls go through "
                        "Python", type(err).__name__)
            return None
        make = int(module.ffi.cast("uintptr_t", module.ffi.addressof(module.lib,
                                                                      "cg_fastcall_make")))
    # Called with the GIL released (it takes it itself), as cffi called it.
    address = ctypes.CFUNCTYPE(ctypes.c_void_p)(make)()
    if not address:
        return None
    # The C returned a new reference; it stays owned here for the process's life.
    return ctypes.cast(address, ctypes.py_object).value


def make_caller(factory: Any, entry_address: int, signature: Signature,
                constants: Sequence[np.ndarray], plans: dict, fallback: Callable,
                on_error: Callable) -> Callable[[tuple], Any] | None:
    """The C call path of one module: `call(args)`, or None when the function is too
    big for the C path's tables.

    `factory` is `factory(...)`'s result, `entry_address` the module's `<entry>_argv`;
    each input's dtype, rank and converter come from its `ArgSpec` in `signature`, and
    the result is packed as `Signature.pack` does. `plans` maps `plan_key(shapes)` to
    (P's address, `plan_key` of the outputs' shapes, whether every update is written in
    place, an object keeping P alive); a call whose key is missing goes to `fallback`
    (which should fill `plans`); a failing kernel calls `on_error(rc, message, args)`,
    which raises.
    """
    args = signature.args
    n_out = signature.n_outputs
    return factory((
        entry_address,
        tuple(spec.typenum for spec in args),
        tuple(spec.ndim for spec in args),
        tuple(d.num for d in signature.out_dtypes[:n_out]),
        signature.out_ndims[:n_out],
        len(signature.updates),
        tuple(constants),
        tuple(spec.convert for spec in args),
        signature.shared,
        plans,
        fallback,
        on_error,
        signature.return_list,
    ))


def plan_key(shapes: tuple) -> bytes:
    """The C path's key for a call whose arrays have `shapes`: their dims as int64."""
    return np.fromiter((d for s in shapes for d in s), dtype=np.int64).tobytes()
