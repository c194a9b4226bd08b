"""The compiler options of a compiled function's module, from the configuration."""

from __future__ import annotations

import shlex

from cgraph import backend
from cgraph.backend.probe import has_libmvec
from cgraph.codegen.render import csrc_dir
from cgraph.configdefaults import Config

__all__ = ["build_options", "has_libmvec"]


def build_options(cfg: Config) -> backend.BuildOptions:
    """Compiler options from the configuration."""
    cflags = tuple(shlex.split(cfg.cflags))
    link: tuple[str, ...] = ()
    if cfg.sanitize:
        sanitizers = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")
        cflags += (*sanitizers, "-fno-omit-frame-pointer", "-g")
        link += sanitizers
    if cfg.blas_one_thread_below:
        cflags += (f"-DCG_BLAS_MT_WORK={cfg.blas_one_thread_below}LL",)
    if cfg.blas_threads == "library":
        cflags += ("-DCG_BLAS_AUTO=0",)
    if cfg.openmp:
        cflags += ("-fopenmp", f"-DCG_NUM_THREADS={cfg.num_threads}")
        link += ("-fopenmp",)
    if has_libmvec():
        libraries = ("mvec", "m")
    else:
        libraries = ("m",)
        cflags += ("-DCG_NO_SIMD_MATH",)
    return backend.BuildOptions(
        cc=cfg.cc,
        cflags=cflags,
        include_dirs=(str(csrc_dir()),),
        libraries=libraries,
        extra_link_args=link,
    )
