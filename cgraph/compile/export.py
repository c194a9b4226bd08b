"""`export_c`: a compiled function as a standalone C library (no Python, numpy or cffi).

The exported step is the same C that cgraph runs (the module's entry point), with
the per-shape plan `P` frozen for the shapes given at export time, the shared
variables held in a state struct (initialised from their values at export time),
and the updates applied after each step, exactly as a call from Python does.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cgraph.codegen.lower import c_literal
from cgraph.codegen.render import csrc_dir, environment
from cgraph.compile.compiled import CompiledModule
from cgraph.compile.function import Function
from cgraph.compile.toolchain import ERRBUF_SIZE
from cgraph.scan.op import plans_in_python
from cgraph.tensor.type import C_TYPES


def _identifier(text: str | None, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text or "")
    return name if name and not name[0].isdigit() else fallback


#: C's keywords (C11, C23 and GNU's), which no variable may be named.
_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while asm typeof typeof_unqual bool true false nullptr
    constexpr static_assert thread_local alignas alignof noreturn complex imaginary
""".split())
#: The step's own parameters and locals (templates/export.c.j2).
_STEP_NAMES = frozenset({"s", "err", "rc"})
#: Object-like macros of the C library headers the library and its users include, and
#: the ones gcc predefines in GNU modes: a parameter so named would be replaced.
_LIBC_MACROS = frozenset("""
    errno stdin stdout stderr NULL BUFSIZ NAN INFINITY HUGE_VAL HUGE_VALF HUGE_VALL
    RAND_MAX MB_CUR_MAX CLOCKS_PER_SEC FILENAME_MAX FOPEN_MAX TMP_MAX L_tmpnam
    DECIMAL_DIG PATH_MAX I linux unix i386 math_errhandling
""".split())
#: Name prefixes the C standard reserves for the library's macros (errno codes, limits,
#: math constants, format macros ...): a name so starting is prefixed itself.
_LIBC_PREFIXES = re.compile(
    r"E[0-9A-Z]|(PRI|SCN)[a-zX]|(FP|M|FLT|DBL|LDBL|LC|SIG|SEEK|EXIT|TIME|CLOCK|MATH|SIZE"
    r"|PTRDIFF|WCHAR|WINT|S?CHAR|UCHAR|U?SHRT|U?LONG|U?LLONG"
    r"|U?INT(\d+|_LEAST\d+|_FAST\d+|PTR|MAX)?)_")
#: The library's own names after its `<name>_` prefix (an accessor may not take them).
_LIBRARY_SUFFIXES = re.compile(r"init|free|step|state|P|(init|const)_\d+")


def _macros(text: str, folders: list[Path], seen: set[str] | None = None) -> set[str]:
    """Every macro `text` defines, with those of the headers it includes that are found
    in `folders` (the library's own and BLAS's; the C library's are in _LIBC_MACROS)."""
    seen = set() if seen is None else seen
    names = set(re.findall(r"^\s*#\s*define\s+([A-Za-z_]\w*)", text, re.M))
    for header in re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', text, re.M):
        for folder in folders:
            path = folder / header
            if header not in seen and path.is_file():
                seen.add(header)
                names |= _macros(path.read_text(errors="replace"), folders, seen)
    return names


class _Namer:
    """C identifiers for the user's variables that collide with nothing the library
    declares: a name that would is renamed by appending `_` (or, where a prefix is
    reserved, prepending `v_`), and the reason is kept for the header's comments.

    Names are unique ignoring case, since each also names an upper-case size macro.
    """

    def __init__(self, library: str, macros: set[str], identifiers: set[str]):
        self.library = library
        self.macros = macros
        self.identifiers = identifiers
        self.used: set[str] = set()

    def _why(self, ident: str, state: bool) -> tuple[str, bool] | None:
        """(why `ident` cannot be used, whether its prefix is the cause), or None."""
        if state:
            full = f"{self.library}_{ident}"
            if _LIBRARY_SUFFIXES.fullmatch(ident) or full in self.identifiers:
                return f"{full} is a name of the library itself", False
        else:
            if ident.startswith("_") or ident.lower().startswith(("cg_", "cgraph_")):
                return "a prefix reserved for the C implementation and cgraph", True
            if _LIBC_PREFIXES.match(ident):
                return "a prefix reserved for the C library's macros", True
            own = ident.removeprefix(f"{self.library}_")
            if own != ident and _LIBRARY_SUFFIXES.fullmatch(own):
                return "a name of the library itself", False
            if ident in _KEYWORDS:
                return "a C keyword", False
            if ident in _STEP_NAMES:
                return "a name the step function uses itself", False
            if ident in self.macros or ident in _LIBC_MACROS or ident.endswith("_t"):
                return "a macro or type name of C or of the library's headers", False
        if ident.upper() in self.used:
            return "the name of another variable (ignoring case)", False
        return None

    def name(self, text: str | None, fallback: str, state: bool = False) -> tuple[str, str]:
        """(identifier, note): `note` says what was renamed and why, or is empty.

        `state` names a shared variable (used in its accessor `<library>_<name>` and
        size macro); other names are also the step's parameter names."""
        ident = original = _identifier(text, fallback)
        reason = None
        while (why := self._why(ident, state)) is not None:
            reason = reason or why[0]
            ident = f"v_{ident}" if why[1] else f"{ident}_"
        self.used.add(ident.upper())
        note = f'the variable "{original}", renamed: {reason}' if reason and text else ""
        return ident, note


def _values(data: np.ndarray) -> list[str]:
    flat = np.ascontiguousarray(data).reshape(-1)
    return [c_literal(v, data.dtype.name) for v in flat] or ["0"]


def export_c(f: Function, out_dir: str | Path, name: str = "cgraph_fn",
             input_shapes: list[tuple[int, ...]] | None = None) -> Path:
    """Write `f` as a C library into `out_dir`: `<name>.c`, `<name>.h`, the runtime
    headers, a Makefile and a README.

    Parameters
    ----------
    f : Function
        A function compiled in mode "C".
    out_dir : str or Path
        The folder to write (created if needed).
    name : str
        The library's name and the prefix of every exported symbol.
    input_shapes : list of tuple, optional
        The shape of each input. By default, the shapes of the calls made so far,
        if they were all the same.

    Returns
    -------
    Path
        The folder written.

    Notes
    -----
    Each input and shared variable keeps its name in the C (step parameter, accessor
    `<name>_<variable>`, size macro) when that name is a valid C identifier that
    collides with nothing in the library: a C keyword, a name the library's C or the C
    library defines (`s`, `err`, `out0`, `errno`, `NULL`, `<name>_init` ...) or
    another variable's name in other case is renamed, by appending `_` or, for a
    reserved prefix (`_`, `cg_`, `E[A-Z]` ...), prepending `v_`. The header's comments
    name each renamed variable and why. BLAS is linked from scipy-openblas32, found
    through Python where the Makefile runs (see the generated README).
    """
    if f.compiled is None:
        raise ValueError("export_c needs a function compiled in mode 'C'")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"export_c: name must be a C identifier, got {name!r}")
    compiled, sig = f.compiled, f.signature
    shapes = _input_shapes(compiled, input_shapes)
    arrays = [np.zeros(s, dtype=spec.dtype) for s, spec in zip(shapes, sig.args)]
    shared_values = [np.ascontiguousarray(v) for v in sig.storages()]
    key = tuple(a.shape for a in arrays) + tuple(v.shape for v in shared_values)
    if compiled.value_args:
        raise NotImplementedError("export_c: shapes that depend on input values")
    if plans_in_python(compiled.lowered.nodes):
        raise NotImplementedError("export_c: a scan whose step's shapes depend on a state "
                                  "(its steps are planned in Python while the loop runs)")
    found = compiled.plan(key, arrays + shared_values)
    plan, out_shapes = found.params, found.out_shapes
    source = compiled.c_source
    namer = _namer(name, source, compiled.build_options.cflags)
    # Outputs are named first: a user's variable named like one (`out0`) is renamed.
    outputs = [_array(namer.name(None, f"out{o}"), sig.out_dtypes[o], out_shapes[o])
               for o in range(sig.n_outputs)]
    inputs = [_array(namer.name(v.name, f"in{i}"), spec.dtype, shape)
              for i, (v, spec, shape) in enumerate(zip(f.user_inputs, sig.args, shapes))]
    shared = [dict(_array(namer.name(s.name, f"shared{k}", state=True), v.dtype, v.shape),
                   data=_values(v))
              for k, (s, v) in enumerate(zip(sig.shared, shared_values))]
    updates = [dict(shared=k, nbytes=int(shared_values[k].nbytes)) for k in sig.update_index]
    for s, same in zip(sig.updates, found.in_place):
        if not same:
            raise ValueError(f"export_c: the update of {s!r} changes its shape")
    constants = [dict(ctype=C_TYPES[c.dtype.name], data=_values(c))
                 for c in compiled.lowered.arg_constants]
    context = dict(name=name, upper=name.upper(), entry=compiled.program.entry,
                   source=source, plan=[str(int(v)) for v in plan], inputs=inputs,
                   outputs=outputs, shared=shared, updates=updates, constants=constants,
                   version=compiled.version, errbuf=ERRBUF_SIZE,
                   **_link(compiled.build_options))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    for template, target in (("export.c.j2", f"{name}.c"), ("export.h.j2", f"{name}.h"),
                             ("export.mk.j2", "Makefile"), ("export.md.j2", "README.md")):
        (out / target).write_text(env.get_template(template).render(**context))
    for header in csrc_dir().glob("*.h"):
        shutil.copyfile(header, out / header.name)
    return out


def _array(named: tuple[str, str], dtype: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """What the templates need of one array argument or shared variable."""
    ident, note = named
    return dict(name=ident, note=note, ctype=C_TYPES[np.dtype(dtype).name],
                shape=list(shape), size=int(np.prod(shape)))


def _namer(library: str, source: str, cflags: tuple[str, ...]) -> _Namer:
    """A namer that knows every macro and identifier of the library's C."""
    folders = [csrc_dir()] + [Path(flag[2:]) for flag in cflags if flag.startswith("-I")]
    texts = [source] + [h.read_text(errors="replace") for h in csrc_dir().glob("*.h")]
    identifiers = set(re.findall(r"[A-Za-z_]\w*", "\n".join(texts)))
    return _Namer(library, _macros(source, folders), identifiers)


def _link(options: Any) -> dict[str, Any]:
    """The Makefile's compiler flags and libraries. BLAS (scipy-openblas32) is looked
    up again where the library is built, its folders at export time as the fallback."""
    include = next((flag[2:] for flag in options.cflags if flag.startswith("-I")
                    and (Path(flag[2:]) / "cblas.h").is_file()), None)
    library = next((lib for lib in options.libraries if "openblas" in lib), None)
    blas = None
    cflags = list(options.cflags)
    libraries = list(options.libraries)
    if "-DCG_BLAS=1" in cflags and include is not None and library is not None:
        lib_dir = next((d for d in options.library_dirs
                        if (Path(d) / f"lib{library}.so").is_file()), "")
        blas = dict(library=library, lib_dir=lib_dir, include_dir=include)
        cflags.remove(f"-I{include}")
        libraries.remove(library)
    library_dirs = [d for d in options.library_dirs if blas is None or d != blas["lib_dir"]]
    # Modules are compiled with -ffp-contract=off unless the cflags choose otherwise.
    contract = not any(flag.startswith("-ffp-contract=") for flag in cflags)
    return dict(cflags=cflags, libraries=libraries, library_dirs=library_dirs, blas=blas,
                contract=contract)


def _input_shapes(compiled: CompiledModule, given: Any) -> list[tuple[int, ...]]:
    n = len(compiled.signature.args)
    if given is not None:
        shapes = [tuple(int(d) for d in s) for s in given]
        if len(shapes) != n:
            raise ValueError(f"export_c: {n} input shapes expected, got {len(shapes)}")
        return shapes
    seen = {key[:n] for key in compiled.plans}
    if len(seen) != 1:
        raise ValueError("export_c: pass input_shapes=[...] (the function has been called "
                         f"with {len(seen)} different input shapes; the export is for one)")
    return list(seen.pop())
