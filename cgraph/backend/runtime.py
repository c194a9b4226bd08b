"""A runtime: C that does not depend on the module, compiled once per cache, compiler
and build options, and linked into every module that names it.

A runtime is made of parts, each named by the one symbol it defines (`cg_rt_...`) and
compiled into an object of its own, kept under ``<cache>/runtime/``. A module links the
parts its C names, so a module without products never compiles the products' part.
`build.build_module` compiles the missing parts alongside the module's own unit. The
parts compiled when cgraph was installed (`prebuilt`) are used instead when they were
compiled by the same compiler with the same options.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cgraph.backend.prebuilt import lookup, prebuilt_key

__all__ = ["Runtime", "publish", "runtime_object"]


@dataclass(frozen=True)
class Runtime:
    """C compiled once per cache, compiler and options, linked into the modules built
    with these options.

    A module's unit is compiled with ``-DCG_RUNTIME`` (it then declares what the
    runtime defines instead of defining it). `name` must change whenever the text of a
    part or the machine it is compiled for does; `source(part)` is called only to
    build. `parts` are the symbols the parts define: a module is linked with each part
    whose symbol its C names.
    """

    name: str
    parts: tuple[str, ...]
    source: Callable[[str], str] = field(compare=False, repr=False)


def runtime_object(part: str, options: object, cc: str, root: Path, flags: str) -> Path:
    """The object of `part` built with `options`: the install-time one compiled so, else
    where the cache in `root` keeps it, named by the options (their repr names the
    runtime), the base `flags` and the compiler binary `cc` (its path, size and time)."""
    installed = lookup(prebuilt_key(options, cc, flags, "runtime part", part))
    if installed is not None:
        return installed
    compiler = shutil.which(cc) or cc
    try:
        info = os.stat(compiler)
        stamp = f"{os.path.realpath(compiler)} {info.st_size} {info.st_mtime_ns}"
    except OSError:
        stamp = compiler
    text = "\0".join([repr(options), stamp, flags, part])
    return root / "runtime" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.o"


def publish(built: Path, target: Path) -> None:
    """Move the object `built` to `target` at once (another process may have published
    the same object meanwhile: either copy is the same; a failure leaves it to the next
    build)."""
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(built, target)
    except OSError:
        pass
