"""The sanitizer runtime: a module built with AddressSanitizer loads only into a process
that preloaded ASan's runtime; `check_sanitizer_runtime` says so before the load would
end the process."""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cgraph.backend.build import BuildOptions

__all__ = ["SanitizerRuntimeError", "check_sanitizer_runtime"]


class SanitizerRuntimeError(RuntimeError):
    """A module built with AddressSanitizer cannot be loaded into this process.

    ASan's runtime must be the first library of the process (``LD_PRELOAD``); loaded
    later, with the module, it ends the whole process from inside ``dlopen``. The
    message gives the command line that works.
    """


def _uses_asan(options: BuildOptions) -> bool:
    for flag in (*options.cflags, *options.extra_link_args):
        name, _, value = flag.partition("=")
        if name == "-fsanitize" and "address" in value.split(","):
            return True
    return False


@functools.cache
def _asan_runtime_loaded() -> bool:
    # The runtime's symbols are in the process's global scope only when it was
    # preloaded (or linked into the executable): dlopen(NULL) looks there.
    return hasattr(ctypes.CDLL(None), "__asan_init")


def check_sanitizer_runtime(options: BuildOptions) -> None:
    """Raise :class:`SanitizerRuntimeError` if `options` build with AddressSanitizer and
    this process could not load such a module.

    Checked on Linux, where the runtime is preloaded with ``LD_PRELOAD``; a process
    whose ``ASAN_OPTIONS`` has ``verify_asan_link_order=0`` is left to ASan.
    """
    if not sys.platform.startswith("linux") or not _uses_asan(options):
        return
    if _asan_runtime_loaded() or "verify_asan_link_order=0" in os.environ.get(
            "ASAN_OPTIONS", ""):
        return
    flags = " ".join((*options.cflags, *options.extra_link_args))
    names = ["libasan.so"] + (["libubsan.so"] if "undefined" in flags else [])
    preload = ":".join(_runtime_path(options.cc, name) for name in names)
    raise SanitizerRuntimeError(
        "cgraph: sanitize=True builds modules with AddressSanitizer, whose runtime must "
        "be loaded before anything else in the process; this Python was started without "
        "it, and loading the module would end the process. Run Python as:\n"
        f"    LD_PRELOAD={preload} ASAN_OPTIONS=detect_leaks=0 {sys.executable} ...\n"
        "(detect_leaks=0: Python's own allocations are not leaks), or turn sanitize off "
        "(cgraph.config.sanitize = False, CGRAPH_FLAGS=sanitize=False).")


def _runtime_path(cc: str, name: str) -> str:
    """Where `cc` keeps the runtime library `name`; a shell expression if it cannot say."""
    try:
        done = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True,
                              text=True, timeout=60)
        path = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        path = ""
    return path if os.path.isabs(path) else f'"$({cc} -print-file-name={name})"'
