"""A table program's C is compiled as `render.UNITS` units at once (one compiler process
each, `backend.build.source_units`): each kernel, with its thunk, in one unit, the table
and the entry points in the last. The module must compute what mode PY computes, and
the same file must still compile as one unit (no CG_UNIT: export, a C compiler run by
hand)."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

import cgraph
import cgraph.tensor as T
from cgraph.backend.build import build_module, source_units
from cgraph.codegen import cdef
from cgraph.printing.text import kernel_source

render = importlib.import_module("cgraph.codegen.render")  # the package exports the function


def chain(mode: str, n: int = 30):
    """The residual chain's training step: a table program of several distinct kernels."""
    x = T.dvector("x")
    w = cgraph.shared(np.eye(3) * 0.5, name="W")
    y = x
    for _ in range(n):
        y = T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2)
    return cgraph.function([x], cost, mode=mode, updates=[(w, w - 0.01 * cgraph.grad(cost, w))]), w


def test_table_program_compiles_as_units_and_equals_mode_py():
    f, w = chain("C")
    g, w_ref = chain("PY")
    source = f.c_source
    assert len(f._lowered.program.steps) > render.TABLE_STEPS
    assert source_units(source) == render.UNITS == 2
    units = [int(u) for u in re.findall(r"^#if CG_IN_UNIT\((\d+)\)\n\n/\* ", source, re.M)]
    assert sorted(set(units)) == [1, 2]  # each unit compiles some of the kernels
    meta = json.loads((Path(f.c_path).parent / "meta.json").read_text())
    assert "-DCG_UNIT=1" in meta["command"]
    for v in (np.ones(3), np.array([0.5, -1.0, 2.0]), np.zeros(3)):
        np.testing.assert_allclose(f(v), g(v), rtol=1e-12)
        np.testing.assert_allclose(w.get_value(), w_ref.get_value(), rtol=1e-12)


def test_a_short_body_is_one_unit():
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x).sum())
    assert len(f._lowered.program.steps) <= render.TABLE_STEPS
    assert source_units(f.c_source) == 1 and "CG_UNIT" not in f.c_source


def test_the_file_of_units_compiles_whole_without_cg_unit(tmp_path):
    f, _ = chain("C", n=20)
    whole = f.c_source.replace(f"#define CG_UNITS {render.UNITS}\n", "")
    assert source_units(whole) == 1
    # Without the runtime too: self-contained, as exported C is.
    build_module(whole, cdef(f._lowered.program), replace(f.build_options, runtime=None),
                 "_cg_whole", tmp_path)
    assert list(tmp_path.glob("_cg_whole*.so"))


def test_a_kernel_shown_from_a_program_of_units_has_no_unit_guards():
    f, _ = chain("C", n=20)
    labels = set(re.findall(r"\[id (\w+)\]  at ", f.c_source))
    texts = [t for t in (kernel_source(f.c_source, label) for label in labels) if t]
    assert len(texts) > 2  # the kernels (the table's rows name nodes too)
    for text in texts:
        assert text.rstrip().endswith("}") and "CG_IN_UNIT" not in text, text[-200:]
