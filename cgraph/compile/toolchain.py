"""What a compiled function's module is built from besides its C: the compiler options
(from the configuration), the headers it includes, and the digest of the code
generator that names it in the cache.

A function's module is found in the cache by `program_key`, computed from the lowered
program without rendering its C. So that a change to what renders the C can never
load a module rendered before it, the key holds `generator_digest`: the templates,
the headers generated modules include, the generator's own Python and cgraph's
version. The C call path's header is compiled into its own module (`fastcall`),
never into a function's, so it stays out of their keys.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
from pathlib import Path

import jinja2
import numpy as np

from cgraph import backend
from cgraph._version import __version__
from cgraph.backend.identity import source_files, tree_digest
from cgraph.backend.prebuilt import lookup
from cgraph.backend.probe import has_libmvec, host_cpu
from cgraph.codegen.lower import Program
from cgraph.codegen.render import csrc_dir, render_runtime, templates_dir
from cgraph.configdefaults import Config, config
from cgraph.tensor.blas_ops import BLAS_PREFIX, _product_context

__all__ = ["CALL_PATH_HEADER", "ERRBUF_SIZE", "build_options", "call_path_headers",
           "call_path_options", "generator_digest", "has_libmvec", "installed_template",
           "kernel_headers", "program_key", "runtime", "template_key"]

#: The header of the C call path (`fastcall`); no generated module includes it.
CALL_PATH_HEADER = "cg_fastcall.h"
#: The packages whose Python turns a lowered program into C (beside the templates).
GENERATOR_PACKAGES = ("codegen", "kernel")
_SANITIZERS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")


def build_options(cfg: Config) -> backend.BuildOptions:
    """Compiler options of a function's module, from the configuration."""
    cflags = tuple(shlex.split(cfg.cflags))
    link: tuple[str, ...] = ()
    if cfg.sanitize:
        cflags += _sanitizer_cflags()
        link += _SANITIZERS
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
        runtime=runtime(),
    )


#: The C type of each dtype whose products the runtime computes.
_CTYPES = {"float32": "float", "float64": "double"}


def _runtime_products() -> list[dict]:
    return [dict(_product_context(dtype), ctype=_CTYPES[dtype]) for dtype in BLAS_PREFIX]


#: The runtime's parts, by the symbol each defines.
_LOOP_PART = "cg_rt_loop_run"
_PRODUCT_PART = "cg_rt_gemm_"


def _runtime_source(part: str) -> str:
    products = [c for c in _runtime_products() if part == _PRODUCT_PART + c["sfx"]]
    return render_runtime(products, part == _LOOP_PART, __version__)


@functools.cache
def runtime() -> backend.Runtime:
    """cgraph's runtime (templates/runtime.c.j2): a part per dtype whose products call
    BLAS and one for `Function.loop`'s loop, which function modules are linked with;
    named by the code generator's digest, what it renders from and the host CPU."""
    text = "\0".join([generator_digest(), repr(_runtime_products()), host_cpu()])
    name = "cgrt-" + hashlib.sha256(text.encode()).hexdigest()[:20]
    parts = (_LOOP_PART, *(_PRODUCT_PART + dtype for dtype in BLAS_PREFIX))
    return backend.Runtime(name, parts, _runtime_source)


def call_path_options(cc: str, sanitize: bool) -> backend.BuildOptions:
    """Compiler options of the C call path's module (`fastcall`): against the CPython
    and numpy C APIs of this process, with the sanitizers of `config.sanitize`."""
    cflags = ("-O2", "-D_CFFI_NO_LIMITED_API", f"-DCG_NUMPY_VERSION={np.__version__}")
    link = _SANITIZERS if sanitize else ()
    if sanitize:
        cflags += _sanitizer_cflags()
    return backend.BuildOptions(
        cc=cc, cflags=cflags, include_dirs=(str(csrc_dir()), np.get_include()),
        libraries=(), extra_link_args=link)


def _sanitizer_cflags() -> tuple[str, ...]:
    return (*_SANITIZERS, "-fno-omit-frame-pointer", "-g")


@functools.cache
def kernel_headers() -> tuple[str, ...]:
    """The headers a function's module may include (their contents enter its key)."""
    return tuple(sorted(str(p) for p in csrc_dir().glob("*.h") if p.name != CALL_PATH_HEADER))


@functools.cache
def call_path_headers() -> tuple[str, ...]:
    """The headers the C call path's module is compiled from: its own and the others
    (it includes the error buffer's size from them)."""
    return (*kernel_headers(), str(csrc_dir() / CALL_PATH_HEADER))


@functools.cache
def generator_digest() -> str:
    """A digest of everything that renders a lowered program into C: the templates,
    `kernel_headers`, the Python of `GENERATOR_PACKAGES` and cgraph's version.

    Computed once per process (and remembered in the cache by the files' stat
    signature, `backend.tree_digest`).
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def relative(path: str, top: str) -> str:
        return path[len(top) + 1:].replace(os.sep, "/")

    templates = str(templates_dir())
    named = [("templates/" + relative(p, templates), p)
             for p in source_files(templates, ".j2")]
    named += [(f"csrc/{os.path.basename(p)}", p) for p in kernel_headers()]
    for folder in GENERATOR_PACKAGES:
        named += [(relative(p, package), p)
                  for p in source_files(os.path.join(package, folder), ".py")]
    return tree_digest("generator", named, f"cgraph {__version__}", digest_root())


def template_key(name: str) -> str:
    """The key of the template `name`'s bytecode compiled at install time
    (`backend.prebuilt`): it holds `generator_digest` (the templates and how the
    environment compiles them) and Jinja's version; Jinja checks the source itself."""
    text = "\0".join(["template", name, f"jinja2 {jinja2.__version__}", generator_digest()])
    return hashlib.sha256(text.encode()).hexdigest()


def installed_template(name: str) -> Path | None:
    """The install-time bytecode of the template `name`, or None (`render.keep_bytecode_in`)."""
    return lookup(template_key(name))


def digest_root() -> Path | None:
    """Where the sources digests are remembered: the cache of `config.cache_dir`."""
    try:
        return backend.cache_dir(config.cache_dir or None)
    except OSError:
        return None


def program_key(program: Program, *extra: str) -> str:
    """A name for the C that rendering `program` would give, without rendering it: the
    program's full description, `generator_digest` and `extra` settings."""
    text = "\0".join([repr(program), generator_digest(), *extra])
    return hashlib.sha256(text.encode()).hexdigest()


def _errbuf_size() -> int:
    """CG_ERRBUF, as csrc/cg_errbuf.h defines it for the C."""
    text = (csrc_dir() / "cg_errbuf.h").read_text()
    return int(re.search(r"^#define CG_ERRBUF (\d+)$", text, re.MULTILINE).group(1))


#: Bytes of the buffer a failing kernel writes its message into (C's CG_ERRBUF).
ERRBUF_SIZE = _errbuf_size()
