"""The C call path: `Function.__call__` without Python in the common case.

A call from Python used to spend about 6 µs around a kernel of well under 1 µs:
checking each argument, a `from_buffer` per pointer (0.3 µs each), the plan lookup,
allocating outputs. `csrc/cg_fastcall.h` does the same work in C against the CPython
and numpy C APIs; it is compiled once per machine (and cached like any module) into
a small cffi module whose one function returns the factory `make_caller`.

The C path handles only what is common; everything else (the first call of a shape,
an update that changes a shape, arguments needing conversion to a dtype it cannot
cast) goes to the Python path it is given, which stays the reference behaviour.
Without a usable factory (no numpy headers, a build failure), Python's path is used.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from cgraph import backend
from cgraph.codegen.render import csrc_dir, header_paths

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


_builds: dict[tuple, Future] = {}
_builds_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cgraph-fastcall")


def start(cc: str, root: str | None, sanitize: bool = False) -> Future:
    """Get `factory(cc, root, sanitize)` going in a thread: on a cold start it compiles
    (0.3-0.4 s) while the function's own module compiles, on the other core."""
    # By the folder it resolves to now: a process may point CGRAPH_CACHE_DIR
    # elsewhere, and each cache should hold the module its functions use.
    key = (cc, str(backend.cache_dir(root)), sanitize)
    with _builds_lock:
        future = _builds.get(key)
        if future is None:
            future = _builds[key] = _pool.submit(_factory, cc, key[1], sanitize)
    return future


def factory(cc: str, root: str | None, sanitize: bool = False) -> Any:
    """`make_caller`, or None when the C path cannot be built here (`sanitize`: built
    with AddressSanitizer and UBSan, like the modules of `config.sanitize`)."""
    return start(cc, root, sanitize).result()


def _factory(cc: str, root: str | None, sanitize: bool) -> Any:
    cflags = ("-O2", "-D_CFFI_NO_LIMITED_API", f"-DCG_NUMPY_VERSION={np.__version__}")
    link: tuple[str, ...] = ()
    if sanitize:
        link = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")
        cflags += (*link, "-fno-omit-frame-pointer", "-g")
    options = backend.BuildOptions(
        cc=cc, cflags=cflags, include_dirs=(str(csrc_dir()), np.get_include()),
        libraries=(), extra_link_args=link)
    try:
        module = backend.load_module(_SOURCE, _CDEF, options, depends=header_paths(),
                                     root=root)
    except (backend.CompileError, backend.CompilerNotFoundError, OSError) as err:
        log.warning("cgraph: the C call path is unavailable (%s); calls go through Python",
                    type(err).__name__)
        return None
    address = int(module.ffi.cast("uintptr_t", module.lib.cg_fastcall_make()))
    if not address:
        return None
    # The C returned a new reference; it stays owned here for the process's life.
    return ctypes.cast(address, ctypes.py_object).value


def plan_key(shapes: tuple) -> bytes:
    """The C path's key for a call whose arrays have `shapes`: their dims as int64."""
    return np.fromiter((d for s in shapes for d in s), dtype=np.int64).tobytes()
