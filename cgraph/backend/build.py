"""Building a module: build options, the compile command, and running it in a folder.

A module is built by running the C compiler directly with :mod:`subprocess` into a
plain shared object, with no Python in it: the functions its cdef declares are its only
exported symbols, and cffi opens it in out-of-line ABI mode (``ffi.dlopen``,
`store.open_module`) with the FFI that ``ffi.emit_python_code`` writes for the cdef (a
Python file: opening needs no C parser). cffi's API mode would compile a wrapper of
Python.h and cffi's glue for each module, about a fifth of a small module's compile (74
of 380 ms of CPU for the residual chain's 50 layers), for calls that the C call path
(`fastcall`) does not make through it.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cffi

from cgraph.backend.runtime import Runtime, publish, runtime_object
from cgraph.backend.sanitizer import SanitizerRuntimeError, check_sanitizer_runtime

__all__ = [
    "BuildOptions",
    "CompileError",
    "CompilerNotFoundError",
    "DEFAULT_CFLAGS",
    "EXPORTS",
    "MODULE_FORMAT",
    "SanitizerRuntimeError",
    "build_module",
    "check_sanitizer_runtime",
    "compile_command",
    "default_options",
    "find_compiler",
    "install_hint",
    "link_command",
    "object_command",
    "source_units",
    "write_atomic",
]

# Flags every module is built with; they are part of every cache key (identity.py).
# -fvisibility=hidden keeps kernels and the entry point private to the module (an
# exported `step` once bound to glibc's step()); PyInit_<name> stays exported
# because Python declares it PyMODINIT_FUNC, i.e. visibility("default").
# -fwrapv: signed integer overflow wraps, as in numpy, instead of being undefined.
# -ffp-contract=off: each float operation is rounded on its own, as numpy rounds it.
# gcc's default (fast) fuses `a*b + c` into one FMA rounded once, which made
# `sqrt(a*a - b*b)` NaN for a == b. Here rather than in the cflags, so that setting
# config.cflags keeps it (a later -ffp-contract in the cflags still wins).
BASE_FLAGS: tuple[str, ...] = ("-shared", "-fPIC", "-fvisibility=hidden", "-fwrapv",
                               "-ffp-contract=off")

#: What a module is, for the cache keys (`identity`, `prebuilt`): a module built
#: otherwise (an extension module with cffi's wrapper, as before) is never loaded as one.
MODULE_FORMAT = "a shared object exporting its cdef, opened by cffi.dlopen"

#: The header every unit of a module is compiled with first (``-include``): the cdef's
#: declarations with default visibility, so that the definitions that follow are
#: exported while everything else stays hidden.
EXPORTS = "cg_exports.h"

#: The optimization flags of generated C unless configured (`config.cflags` shows
#: them). Never -ffast-math: it breaks NaN/Inf semantics. -fno-math-errno and
#: -fopenmp-simd let gcc vectorize math calls through libmvec.
DEFAULT_CFLAGS: tuple[str, ...] = ("-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd")

_N_STDERR_LINES = 20


@dataclass(frozen=True)
class BuildOptions:
    """How to compile a module: compiler, flags, headers and libraries.

    Every field enters the cache key, so option sets that differ in any way never
    share a cached module.
    """

    cc: str = "gcc"
    cflags: tuple[str, ...] = DEFAULT_CFLAGS
    include_dirs: tuple[str, ...] = ()
    library_dirs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ("m",)
    extra_link_args: tuple[str, ...] = ()
    runtime: Runtime | None = None


def default_options() -> BuildOptions:
    """Return the default :class:`BuildOptions`, with ``cc`` from ``$CC`` if it is set.

    Returns
    -------
    BuildOptions
        Default values of every field.
    """
    cc = os.environ.get("CC", "").strip()
    return BuildOptions(cc=cc) if cc else BuildOptions()


class CompileError(RuntimeError):
    """The C compiler failed.

    Attributes
    ----------
    stderr : str
        The compiler's full standard error.
    c_path : str
        The C file that failed to compile (kept on disk for inspection).
    command : str
        A shell command line that reproduces the failure (``cd DIR && gcc ...``).
    """

    def __init__(self, stderr: str, build_dir: Path, argv: list[str], returncode: int):
        self.stderr = stderr
        self.build_dir = build_dir
        self.argv = argv
        self.returncode = returncode
        self.c_path = str(build_dir / argv[argv.index("-o") - 1])
        self.command = f"cd {shlex.quote(str(build_dir))} && {shlex.join(argv)}"
        lines = stderr.splitlines()
        shown = ([line for line in lines if "error" in line.lower()] or lines)[:_N_STDERR_LINES]
        super().__init__(
            "\n".join(
                [
                    f"C compilation failed (exit status {returncode}):",
                    *(f"    {line}" for line in shown),
                    f"C file: {self.c_path}",
                    f"reproduce with: {self.command}",
                ]
            )
        )

    def moved_to(self, build_dir: Path) -> CompileError:
        """Return the same error for the build folder moved to ``build_dir``."""
        return CompileError(self.stderr, build_dir, self.argv, self.returncode)


def install_hint() -> str:
    """How to install a C compiler on this platform (one line, for error messages)."""
    if sys.platform == "darwin":
        return "install the command line tools: xcode-select --install"
    if sys.platform.startswith("win"):
        return "install MinGW-w64 gcc (e.g. from https://winlibs.com) and put it on PATH"
    return ("install gcc: sudo apt-get install build-essential (Debian/Ubuntu), "
            "sudo dnf install gcc (Fedora), sudo apk add build-base (Alpine)")


class CompilerNotFoundError(CompileError):
    """No C compiler could be run: ``cc`` is not on ``PATH`` or cannot be executed.

    The message names the compiler looked for, says how to install one, and that
    ``mode="PY"`` (the numpy reference) needs none.

    Attributes
    ----------
    cc : str
        The compiler that was looked for (``config.cc``, ``$CC``, default gcc).
    reason : str
        Why it could not be run.
    """

    def __init__(self, cc: str, reason: str, argv: list[str] | None = None):
        self.cc = cc
        self.reason = reason
        self.stderr = reason
        self.argv = list(argv or [cc])
        self.returncode = -1
        self.build_dir = None
        self.c_path = ""
        self.command = shlex.join(self.argv)
        RuntimeError.__init__(self, "\n".join([
            f"cgraph: no C compiler: cannot run {cc!r} ({reason}).",
            f"  To compile to C, {install_hint()};",
            "  or point cgraph at a compiler you have: cgraph.config.cc = '/path/to/gcc', "
            "$CC, or CGRAPH_FLAGS=cc=clang.",
            '  Without a compiler, cgraph.function(..., mode="PY") evaluates the same graph '
            "with numpy (slower, same results).",
        ]))

    def moved_to(self, build_dir: Path) -> CompilerNotFoundError:
        """Return this error: there is no failed C file to point at."""
        return self


def find_compiler(cc: str) -> str:
    """Return the path of the compiler ``cc``, or raise :class:`CompilerNotFoundError`.

    Parameters
    ----------
    cc : str
        A compiler name, looked up on ``PATH``, or a path.

    Returns
    -------
    str
        The compiler's path.
    """
    if not cc:
        raise CompilerNotFoundError(cc, "no compiler is configured (config.cc is empty)")
    found = shutil.which(cc)
    if found is not None:
        return found
    if os.sep in cc or (os.altsep and os.altsep in cc):
        reason = "not executable" if os.path.exists(cc) else "no such file"
    else:
        path = os.environ.get("PATH", "")
        reason = f"not found on PATH={path!r}" if path else "not found: PATH is empty"
    raise CompilerNotFoundError(cc, reason)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one.

    If writing fails (e.g. the disk is full), the temporary file is removed and the
    old file, if any, is left as it was.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def compile_command(options: BuildOptions, c_file: str, so_file: str) -> list[str]:
    """Return the argument list that compiles ``c_file`` into the extension ``so_file``.

    Parameters
    ----------
    options : BuildOptions
        Compiler, flags, include and library settings.
    c_file, so_file : str
        Input and output file names, relative to the build folder.

    Returns
    -------
    list of str
        The command, ready for :func:`subprocess.run`.
    """
    include_dirs = [sysconfig.get_paths()["include"], *map(os.path.abspath, options.include_dirs)]
    library_dirs = [os.path.abspath(d) for d in options.library_dirs]
    return [
        options.cc,
        *BASE_FLAGS,
        *options.cflags,
        *(f"-I{d}" for d in include_dirs),
        c_file,
        "-o",
        so_file,
        *(f"-L{d}" for d in library_dirs),
        *(f"-Wl,-rpath,{d}" for d in library_dirs),
        *(f"-l{lib}" for lib in options.libraries),
        *options.extra_link_args,
    ]


def object_command(options: BuildOptions, c_file: str, o_file: str,
                   optimize: tuple[str, ...] = (), defines: tuple[str, ...] = (),
                   first: str | None = None) -> list[str]:
    """The argument list that compiles ``c_file`` into the object ``o_file`` (with
    ``optimize`` after the configured flags: they win; `defines` before them; the
    header `first` included before the file's first line)."""
    include_dirs = [sysconfig.get_paths()["include"], *map(os.path.abspath, options.include_dirs)]
    return [options.cc, "-c", *BASE_FLAGS, *defines, *options.cflags, *optimize,
            *(f"-I{d}" for d in include_dirs), *(("-include", first) if first else ()),
            c_file, "-o", o_file]


def link_command(options: BuildOptions, objects: list[str], so_file: str) -> list[str]:
    """The argument list that links ``objects`` into the extension ``so_file`` (the
    flags come again: -fopenmp and -fsanitize also choose runtime libraries)."""
    library_dirs = [os.path.abspath(d) for d in options.library_dirs]
    return [options.cc, *BASE_FLAGS, *options.cflags, *_link_flags(), *objects, "-o", so_file,
            *(f"-L{d}" for d in library_dirs),
            *(f"-Wl,-rpath,{d}" for d in library_dirs),
            *(f"-l{lib}" for lib in options.libraries),
            *options.extra_link_args]


@functools.cache
def _link_flags() -> tuple[str, ...]:
    """On Linux, ``-Wl,-Bsymbolic``: the module's calls of its own exported functions
    stay in the module, whatever another library of the process exports under that name
    (an exported `step` was once bound to glibc's step()); and ``-fuse-ld=gold`` when
    binutils' gold is installed: it links a module in about half the time of the default
    ld.bfd (17 against 30 ms of CPU for the residual chain's 50 layers), a step every
    cold compile waits for after the units. Before the configured link flags, so that a
    -fuse-ld there wins."""
    if not sys.platform.startswith("linux"):
        return ()
    return ("-Wl,-Bsymbolic", *(("-fuse-ld=gold",) if shutil.which("ld.gold") else ()))


def exports_header(cdef: str) -> str:
    """The text of `EXPORTS` for `cdef` (plain C declarations, as cffi's ABI mode reads
    them; the fixed-width integer types are declared)."""
    return ("/* The module's exported functions: the cdef cffi opens it with (cgraph/backend/"
            "build.py). */\n#include <stddef.h>\n#include <stdint.h>\n"
            f"#pragma GCC visibility push(default)\n{cdef}\n#pragma GCC visibility pop\n")


def build_module(
    source: str, cdef: str, options: BuildOptions, modname: str, build_dir: Path,
    meanwhile: Callable[[], None] | None = None,
) -> list[str]:
    """Compile ``source`` into the shared object ``<modname><EXT_SUFFIX>`` in ``build_dir``.

    Writes ``source.c`` (the source verbatim, compiled as it is), `EXPORTS` (the
    declarations of ``cdef``: plain C prototypes, whose definitions in the source are
    the object's only exported symbols) and ``<modname>.py`` (cffi's FFI of ``cdef``,
    which opens the object: `store.open_module`); the source compiles into an object,
    then links.
    A source made of units (`source_units`) is compiled once per unit, all at once. With
    ``options.runtime``, the source is compiled with ``-DCG_RUNTIME`` and linked with the
    runtime's parts it names, kept in ``build_dir``'s parent folder (the cache) and
    compiled alongside the first module that needs them.

    Parameters
    ----------
    source : str
        A complete C translation unit.
    cdef : str
        cffi declarations of the functions to expose in ``lib``.
    options : BuildOptions
        Compiler, flags, include and library settings.
    modname : str
        The module name (decides the file names).
    build_dir : Path
        An existing, empty folder.
    meanwhile : callable, optional
        Called, with no argument, once the compiles have started (before the link);
        what it raises is raised once they have been stopped.

    Returns
    -------
    list of str
        The command that compiled ``source.c`` in ``build_dir`` (the other units' and
        the link's are alike; a failing one is in the CompileError).

    Raises
    ------
    CompilerNotFoundError
        If the compiler cannot be found or started (checked before writing anything).
    CompileError
        If the compiler fails.
    OSError
        If a file cannot be written (e.g. ``ENOSPC``: the disk is full).
    """
    find_compiler(options.cc)
    with open(build_dir / "source.c", "w", encoding="utf-8", newline="") as f:
        f.write(source)
    with open(build_dir / EXPORTS, "w", encoding="utf-8", newline="") as f:
        f.write(exports_header(cdef))
    parts = [part for part in options.runtime.parts if part in source] if options.runtime else []
    defines = ("-DCG_RUNTIME=1",) if options.runtime else ()
    units = source_units(source)
    own = ["source.o"] if units == 1 else [f"source{u}.o" for u in range(1, units + 1)]
    commands = [object_command(options, "source.c", obj,
                               defines=defines if units == 1 else (*defines, f"-DCG_UNIT={u}"),
                               first=EXPORTS)
                for u, obj in enumerate(own, 1)]
    command = commands[0]
    objects, fresh = list(own), []
    for part in parts:  # the runtime's parts it names: built in this cache, or built now
        target = runtime_object(part, options, options.cc, build_dir.parent,
                                " ".join(BASE_FLAGS))
        if target.is_file():
            objects.append(str(target))
            continue
        with open(build_dir / f"{part}.c", "w", encoding="utf-8", newline="") as f:
            f.write(options.runtime.source(part))
        commands.append(object_command(options, f"{part}.c", f"{part}.o"))
        objects.append(f"{part}.o")
        fresh.append((part, target))

    def while_compiling() -> None:  # cffi parses the cdef (1-10 ms) beside the compiler
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(modname, None, compiler_verbose=False)
        ffi.emit_python_code(str(build_dir / f"{modname}.py"))
        if meanwhile is not None:
            meanwhile()

    _run_all(commands, build_dir, options.cc, while_compiling)
    so_name = modname + sysconfig.get_config_var("EXT_SUFFIX")
    _run_all([link_command(options, objects, so_name)], build_dir, options.cc)
    for part, target in fresh:
        publish(build_dir / f"{part}.o", target)
        os.unlink(build_dir / f"{part}.c")
    for obj in own:
        os.unlink(build_dir / obj)
    return command


_UNITS = re.compile(r"^#define CG_UNITS (\d+)$", re.MULTILINE)


def source_units(source: str) -> int:
    """How many units `source` compiles as: the N of its ``#define CG_UNITS N`` line, a
    C file meant to be compiled once per unit with ``-DCG_UNIT=1..N`` at once, each run
    keeping its part (cgraph/codegen/render.py); else 1."""
    found = _UNITS.search(source)
    return max(1, int(found.group(1))) if found else 1


#: Held while a compiler process is being started, and taken by every fork: a process
#: forked by another thread in the middle of `subprocess.Popen` would keep the write end
#: of Popen's exec-status pipe open, and Popen would wait on it until that process ended
#: (a fork while another thread compiled hung its build until the child died).
_SPAWNING = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_SPAWNING.acquire, after_in_parent=_SPAWNING.release,
                        after_in_child=_SPAWNING.release)


def _run_all(commands: list[list[str]], build_dir: Path, cc: str,
             meanwhile: Callable[[], None] | None = None) -> None:
    """Run the commands at once in ``build_dir`` (and `meanwhile`, once they have
    started, in this thread); raise for the first that fails.

    Their output goes to temporary files, not pipes: a pipe's write end, copied into a
    process that another thread forks meanwhile, would keep the reader waiting for an
    end of file until that process exits (a fork during a compile hung it). The files
    are in the system's temporary folder, not ``build_dir``: a compiler that finds the
    cache's disk full must still be able to say so."""
    started = []
    try:
        for argv in commands:
            log = tempfile.TemporaryFile()
            with _SPAWNING:
                proc = subprocess.Popen(argv, cwd=build_dir, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log)
            started.append((argv, log, proc))
    except OSError as exc:  # found, but not runnable (permissions, not a binary...)
        _stop(started)
        raise CompilerNotFoundError(cc, f"{type(exc).__name__}: {exc}", argv) from exc
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:
            _stop(started)
            raise
    failed = None
    for argv, log, proc in started:
        proc.wait()
        if proc.returncode != 0 and failed is None:
            log.seek(0)
            failed = CompileError(log.read().decode(errors="replace"), build_dir, argv,
                                  proc.returncode)
        log.close()
    if failed is not None:
        raise failed


def _stop(started: list) -> None:
    for _, log, proc in started:
        proc.kill()
        proc.wait()
        log.close()
