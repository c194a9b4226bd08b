"""The C toolchain: compile C text with cffi and the system compiler, cache it on disk.

This layer knows nothing about graphs. :func:`load_module` takes a C translation unit
and a cffi cdef and returns the loaded module, compiling it at most once per content
hash across processes.

One idea per module: `build` (options, the compile command, building in a folder),
`probe` (the compiler's identity, the host CPU, BLAS and libmvec), `identity` (the
cache key), `store` (the cache folder and its entries), `index` (names of warm
starts), `runtime` (C that modules share, built once per cache), `prebuilt` (what
was compiled when cgraph was installed), `cache` (the memo and the ways to a module),
`maintenance` (listing, clearing, purging).
"""

from cgraph.backend.build import (
    BuildOptions,
    CompileError,
    CompilerNotFoundError,
    SanitizerRuntimeError,
    default_options,
)
from cgraph.backend.cache import load_indexed, load_module, record_index
from cgraph.backend.identity import CGRAPH_BACKEND_VERSION
from cgraph.backend.maintenance import (
    cache_clear,
    cache_info,
    cache_list,
    cache_purge,
    cache_remove_stale,
)
from cgraph.backend.probe import has_libmvec, with_blas
from cgraph.backend.runtime import Runtime
from cgraph.backend.store import (
    CacheSecurityError,
    DiskFullError,
    LoadedModule,
    Stats,
    cache_dir,
    private_subdir,
    stats,
)

__all__ = [
    "CGRAPH_BACKEND_VERSION",
    "BuildOptions",
    "CacheSecurityError",
    "CompileError",
    "CompilerNotFoundError",
    "DiskFullError",
    "LoadedModule",
    "Runtime",
    "SanitizerRuntimeError",
    "Stats",
    "cache_clear",
    "cache_dir",
    "cache_info",
    "cache_list",
    "cache_purge",
    "cache_remove_stale",
    "default_options",
    "has_libmvec",
    "load_indexed",
    "load_module",
    "private_subdir",
    "record_index",
    "stats",
    "with_blas",
]
