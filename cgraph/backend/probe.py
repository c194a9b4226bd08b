"""What this machine offers and is: the compiler's identity, the host CPU, and where
the libraries that modules link (scipy-openblas32's BLAS, glibc's libmvec) are.

Each probe runs at most once per process (or, for the compiler's ``--version``, once
per compiler binary, stored in the cache), so that the warm path costs a ``stat``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from cgraph.backend.build import BuildOptions, write_atomic

__all__ = ["BLAS_THREAD_TIMEOUT", "compiler_identity", "has_libmvec", "host_cpu",
           "with_blas"]

_which: dict[tuple[str, str | None], str | None] = {}
_identities: dict[tuple[str, int, int], str] = {}


def compiler_identity(cc: str, version_dir: Path) -> str:
    """Identify the compiler cheaply: real path, size, mtime and ``--version`` text.

    ``--version`` runs once per compiler binary (keyed on its stat) and is stored in
    ``version_dir``, so the warm path costs one ``stat``.

    Parameters
    ----------
    cc : str
        A compiler name (``gcc``) or path.
    version_dir : Path
        A writable folder for the stored ``--version`` outputs.

    Returns
    -------
    str
        Text that changes whenever the compiler binary does.
    """
    which_key = (cc, os.environ.get("PATH"))
    path = _which.get(which_key, "")
    if path == "":
        found = shutil.which(cc)
        path = _which[which_key] = os.path.realpath(found) if found else None
    if path is None:
        return f"missing {cc}"
    st = os.stat(path)
    stamp = (path, st.st_size, st.st_mtime_ns)
    identity = _identities.get(stamp)
    if identity is None:
        version = _compiler_version(stamp, version_dir)
        identity = _identities[stamp] = f"{path} {st.st_size} {st.st_mtime_ns}\n{version}"
    return identity


def _compiler_version(stamp: tuple[str, int, int], version_dir: Path) -> str:
    stored = version_dir / (hashlib.sha256(repr(stamp).encode()).hexdigest()[:32] + ".txt")
    try:
        return stored.read_text()
    except OSError:
        pass
    try:
        done = subprocess.run([stamp[0], "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    try:
        version_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(stored, done.stdout)
    except OSError:
        pass  # storing it only saves a run of --version (e.g. the disk is full)
    return done.stdout


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


#: OpenBLAS's idle workers spin 2**THREAD_TIMEOUT cycles before they sleep: 2**28 (about
#: 0.1 s) by default. On two cores that spinning thread takes a core from whatever runs
#: next: 256x256 products alternating with numpy's (its own OpenBLAS pool) fell from 40
#: to 1.4 GFLOP/s, and each product burnt 0.1 s of CPU after it ended. 2**20 cycles
#: (about 0.4 ms) still bridge back-to-back calls (2**16 did not: the workers slept
#: between 256x256 products and each call waited for them to wake).
BLAS_THREAD_TIMEOUT = "20"


@functools.cache
def _blas_link() -> tuple[tuple[str, ...], str, str] | None:
    """(cflags, library dir, library) of scipy-openblas32, or None if it is missing."""
    # The package is found, not imported: its import costs 30-40 ms (importlib.metadata
    # for its version), most of a warm start. The version is read from the dist-info
    # folder's name instead; without one, the import gives it.
    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or spec.origin is None:
        return None
    here = Path(spec.origin).parent
    lib_dir, include_dir = here / "lib", here / "include"
    # Listed, not globbed: a glob compiles a regular expression (a few ms per pattern).
    libs = sorted(_names(lib_dir, "libscipy_openblas", ".so"))
    infos = sorted(_names(here.parent, "scipy_openblas32-", ".dist-info"))
    if len(libs) != 1 or len(infos) != 1:
        import scipy_openblas32 as openblas  # noqa: PLC0415  (an unusual layout)
        version, library = openblas.__version__, openblas.get_library()
        lib_dir, include_dir = Path(openblas.get_lib_dir()), Path(openblas.get_include_dir())
    else:
        version = infos[0][len("scipy_openblas32-"):-len(".dist-info")]
        library = libs[0][3:].partition(".so")[0]
    _load_blas(lib_dir, library)
    # -I in cflags rather than include_dirs, so that export_c's Makefile gets it too.
    # CG_BLAS turns the BLAS calls on; CG_BLAS_VERSION is there to put the version of
    # the library linked into the cache key (the options' repr).
    cflags = (f"-I{include_dir}", "-DCG_BLAS=1", f"-DCG_BLAS_VERSION={version}")
    return cflags, str(lib_dir), library


def _names(folder: Path, prefix: str, suffix: str) -> list[str]:
    """The names in `folder` that start with `prefix` and end with `suffix`."""
    try:
        return [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(suffix)]
    except OSError:
        return []


def _load_blas(lib_dir: Path, library: str) -> None:
    """Load the library now (modules linked to it later share this copy), with
    OPENBLAS_THREAD_TIMEOUT set: OpenBLAS reads it once, when it is loaded. A value the
    user set is kept."""
    ours = "OPENBLAS_THREAD_TIMEOUT" not in os.environ
    if ours:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT
    try:
        ctypes.CDLL(str(lib_dir / f"lib{library}.so"), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass  # the module's own link then reports the problem
    finally:
        if ours:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]


def with_blas(options: BuildOptions) -> BuildOptions:
    """`options` for a module that calls BLAS: scipy-openblas32's header and library.

    Only modules whose kernels call BLAS are built so (small modules stay small and
    fast to link). The library's version is in the flags, hence in the cache key.
    Without scipy-openblas32 installed, the options are returned unchanged and the
    kernels fall back to their generated loops (CG_BLAS stays undefined), with a
    warning.

    Threads: OpenBLAS (a pthreads build, not OpenMP) keeps its default pool size,
    one thread per CPU this process may run on (``OPENBLAS_NUM_THREADS`` overrides
    it), as numpy's own OpenBLAS does: a 1024x1024 product needs both cores to
    match numpy. What oversubscribed the two cores was the idle workers spinning
    for about 0.1 s after each product, so cgraph's pool is loaded with a short
    spin (BLAS_THREAD_TIMEOUT). Kernels call BLAS one at a time from the calling
    thread, never from inside an OpenMP region (with ``config.openmp``, OpenMP
    regions and BLAS calls alternate rather than nest).

    Returns
    -------
    BuildOptions
        The same options with the BLAS flags, library dir and library added.
    """
    link = _blas_link()
    if link is None:
        warnings.warn("cgraph: scipy-openblas32 is not installed; matrix products use "
                      "generated loops (pip install scipy-openblas32)", RuntimeWarning,
                      stacklevel=2)
        return options
    cflags, lib_dir, library = link
    return dataclasses.replace(options, cflags=options.cflags + cflags,
                               library_dirs=options.library_dirs + (lib_dir,),
                               libraries=(library, *options.libraries))


@functools.cache
def has_libmvec() -> bool:
    """Whether glibc's vector math library is there (csrc/cg_simd.h declares its
    functions, so loops calling exp, sin... vectorise)."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # loading it takes 0.1 ms; ctypes.util.find_library runs ldconfig (2.5 ms)
        ctypes.CDLL("libmvec.so.1")
    except OSError:
        return ctypes.util.find_library("mvec") is not None
    return True
