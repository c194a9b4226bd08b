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
from typing import TYPE_CHECKING, Any

import numpy as np

from cgraph.codegen.lower import c_literal
from cgraph.codegen.render import csrc_dir, environment
from cgraph.tensor.type import C_TYPES

if TYPE_CHECKING:
    from cgraph.compile.function import Function


def _identifier(text: str | None, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text or "")
    return name if name and not name[0].isdigit() else fallback


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
    """
    if f.mode != "C":
        raise ValueError("export_c needs a function compiled in mode 'C'")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"export_c: name must be a C identifier, got {name!r}")
    shapes = _input_shapes(f, input_shapes)
    arrays = [np.zeros(s, dtype=spec.dtype) for s, spec in zip(shapes, f._inputs)]
    shared_values = [np.ascontiguousarray(s._value) for s in f._shared]
    key = tuple(a.shape for a in arrays) + tuple(v.shape for v in shared_values)
    if f._lowered.value_args:
        raise NotImplementedError("export_c: shapes that depend on input values")
    P, out_shapes, _, inplace = f._plan(key, arrays + shared_values)
    plan = np.frombuffer(f._module.ffi.buffer(P), dtype=np.int64)
    n_out = f._n_outputs
    used: set[str] = set()

    def unique(text: str | None, fallback: str) -> str:
        ident = _identifier(text, fallback)
        while ident in used:
            ident += "_"
        used.add(ident)
        return ident

    inputs = [dict(name=unique(v.name, f"in{i}"), ctype=C_TYPES[spec.dtype.name],
                   shape=list(shape), size=int(np.prod(shape)))
              for i, (v, spec, shape) in enumerate(zip(f.user_inputs, f._inputs, shapes))]
    outputs = [dict(name=f"out{o}", ctype=C_TYPES[f._out_dtypes[o].name],
                    shape=list(out_shapes[o]), size=int(np.prod(out_shapes[o])))
               for o in range(n_out)]
    shared = [dict(name=unique(s.name, f"shared{k}"), ctype=C_TYPES[v.dtype.name],
                   shape=list(v.shape), size=int(v.size), data=_values(v))
              for k, (s, v) in enumerate(zip(f._shared, shared_values))]
    updates = [dict(shared=f._shared.index(s), nbytes=int(f._shared[f._shared.index(s)]
                                                           ._value.nbytes))
               for s in f._updates]
    for s, same in zip(f._updates, inplace):
        if not same:
            raise ValueError(f"export_c: the update of {s!r} changes its shape")
    constants = [dict(ctype=C_TYPES[c.dtype.name], data=_values(c))
                 for c in f._lowered.arg_constants]
    context = dict(name=name, upper=name.upper(), entry=f._lowered.program.entry,
                   source=f.c_source, plan=[str(int(v)) for v in plan], inputs=inputs,
                   outputs=outputs, shared=shared, updates=updates, constants=constants,
                   cflags=f.build_options.cflags, libraries=f.build_options.libraries,
                   library_dirs=f.build_options.library_dirs, version=f.version)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    for template, target in (("export.c.j2", f"{name}.c"), ("export.h.j2", f"{name}.h"),
                             ("export.mk.j2", "Makefile"), ("export.md.j2", "README.md")):
        (out / target).write_text(env.get_template(template).render(**context))
    for header in csrc_dir().glob("*.h"):
        shutil.copyfile(header, out / header.name)
    return out


def _input_shapes(f: Function, given: Any) -> list[tuple[int, ...]]:
    n = f._n_inputs
    if given is not None:
        shapes = [tuple(int(d) for d in s) for s in given]
        if len(shapes) != n:
            raise ValueError(f"export_c: {n} input shapes expected, got {len(shapes)}")
        return shapes
    seen = {key[:n] for key in f._plans}
    if len(seen) != 1:
        raise ValueError("export_c: pass input_shapes=[...] (the function has been called "
                         f"with {len(seen)} different input shapes; the export is for one)")
    return list(seen.pop())
