"""Rendering: a Program becomes one C translation unit through the Jinja templates."""

from __future__ import annotations

import functools
import hashlib
from importlib.resources import files
from pathlib import Path

import jinja2

from cgraph.codegen.lower import Program


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja environment, loading from the installed `cgraph.templates`.

    Compiling the templates to Python took 0.2 s of every process's first render:
    their bytecode is kept (like a .pyc) in Jinja's per-user folder of the temporary
    directory (created 0700, checked to be the user's), keyed by each template's
    source, so an edited template is compiled again.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("cgraph.templates"))),
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


@functools.cache
def csrc_dir() -> Path:
    """The directory holding cgraph's hand-written C headers."""
    return Path(str(files("cgraph.csrc")))


@functools.cache
def header_paths() -> tuple[str, ...]:
    """The headers every module includes (their contents go into the cache key)."""
    return tuple(sorted(str(p) for p in csrc_dir().glob("*.h")))


@functools.cache
def sources_digest() -> str:
    """A digest of every template and header: what rendering depends on besides the
    program (computed once per process)."""
    h = hashlib.sha256()
    for folder in (Path(str(files("cgraph.templates"))), csrc_dir()):
        for path in sorted(folder.glob("*")):
            if path.suffix in (".j2", ".h"):
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def program_key(program: Program, *extra: str) -> str:
    """A name for the C that `render(program, ...)` would give, without rendering it:
    the program's full description, the templates and headers, and `extra` settings."""
    text = "\0".join([repr(program), sources_digest(), *extra])
    return hashlib.sha256(text.encode()).hexdigest()


def render(program: Program, version: str, profile: bool = False) -> str:
    """Return the C source of `program`; with `profile`, each kernel call is timed
    into a static counter array (read through `<entry>_profile`)."""
    env = environment()
    kernels = [env.get_template(f"{s.kernel.family}.c.j2").render(k=s.kernel).strip()
               for s in program.steps]
    return env.get_template("module.c.j2").render(program=program, kernels=kernels,
                                                  version=version, profile=profile)


def render_program(program: Program) -> str:
    """The C of an inner program (a scan's step): its constants, its kernels and a
    `static` entry point, to be placed inside another module."""
    env = environment()
    kernels = [env.get_template(f"{s.kernel.family}.c.j2").render(k=s.kernel).strip()
               for s in program.steps]
    return env.get_template("program.c.j2").render(program=program, kernels=kernels,
                                                   storage="static inline ", profile=False)


def cdef(program: Program, profile: bool = False) -> str:
    """The cffi declaration of the program's entry points."""
    args = "".join(f", void *a{i}" for i in range(program.n_args))
    text = (f"int {program.entry}(const int64_t *P, char *err{args});\n"
            f"int {program.entry}_argv(const int64_t *P, char *err, char *ws, void **A);\n"
            f"int {program.entry}_loop(const int64_t *P_full, const int64_t *P_last, "
            "char *err, const int64_t *L, void **X, int64_t *state);")
    if profile:
        text += f"\ndouble *{program.entry}_profile(void);"
    return text
