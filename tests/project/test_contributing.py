"""The steps CONTRIBUTING.md lists are done for every op; a failure names the missing step.

Each check is a function returning the problems it finds, so that a probe (an op
with a step left out) shows the message a contributor would read.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import REPO, import_test_module

import cgraph
import cgraph.scan  # noqa: F401  (loads every op module before the subclasses are listed)
import cgraph.tensor as T
from cgraph.codegen.render import templates_dir
from cgraph.graph.basic import LazyOp, Op, UniqueOp, ViewOp
from cgraph.kernel import KernelBuilder, builder_for, register_kernel, registry
from cgraph.tensor import elemwise, oplist
from cgraph.tensor.subtensor_ops import IndexOp

CONTRIBUTING = REPO / "CONTRIBUTING.md"
ROW = "CONTRIBUTING.md, 'Adding an elementwise op'"
FAMILY = "CONTRIBUTING.md, 'Adding an op family'"

test_ops = import_test_module("test_ops")  # the elementwise test references (REFERENCE)


# --------------------------------------------------------------------------- elementwise


def reference_problems(table: dict) -> list[str]:
    """Table ops with no numpy twin in tests/tensor/test_ops.py's REFERENCE."""
    return [f"elementwise op {name!r} has no test reference: add it to REFERENCE in "
            f"tests/tensor/test_ops.py ({ROW}, step 2)" for name in table if name not in
            test_ops.REFERENCE]


def export_problems(table: dict, section: str) -> list[str]:
    """Table ops not exported from cgraph.tensor or not in README's operations list."""
    problems = []
    for name in table:
        spellings = [n for n in T.__all__ if getattr(getattr(T, n, None), "__name__", "") == name]
        if not spellings:
            problems.append(f"elementwise op {name!r} is not exported from cgraph.tensor: "
                            f"make it with _elementwise(...) in cgraph/tensor/math.py ({ROW}, "
                            "step 1)")
        elif not any(f"`{n}`" in section for n in spellings):
            problems.append(f"elementwise op {name!r} is not in README's operations list: run "
                            f"`python -m cgraph ops --readme README.md` ({ROW}, step 3)")
    return problems


def nonnegative_problems(table: dict) -> list[str]:
    """Rows flagged `nonnegative` whose numpy function gives a negative number."""
    x = np.linspace(-9.5, 9.5, 77)
    problems = []
    for name, op in table.items():
        scalar = op.scalar_op
        if not scalar.nonnegative:
            continue
        with np.errstate(all="ignore"):
            out = np.asarray(scalar.impl(*[x] * scalar.nin), dtype=np.float64)
        if np.any(out < 0):
            problems.append(f"elementwise op {name!r} is flagged nonnegative but gives "
                            f"{out[out < 0][0]} ({ROW}, step 1)")
    return problems


def _readme_section() -> str:
    text = (REPO / "README.md").read_text()
    return text.split(oplist.START, 1)[1].split(oplist.END, 1)[0]


def test_every_table_op_has_a_test_reference():
    assert not reference_problems(T.ELEMENTWISE), "\n".join(reference_problems(T.ELEMENTWISE))


def test_every_table_op_is_exported_and_listed():
    problems = export_problems(T.ELEMENTWISE, _readme_section())
    assert not problems, "\n".join(problems)


def test_nonnegative_flags_hold():
    problems = nonnegative_problems(T.ELEMENTWISE)
    assert not problems, "\n".join(problems)


def test_cbrt_is_one_row():
    # The documented example: cube roots of negative numbers are negative, ints upcast.
    assert "cbrt" in T.__all__ and T.cbrt.__name__ == "cbrt"
    x = T.dvector("x")
    f = cgraph.function([x], [T.cbrt(x), T.grad(T.sum(T.cbrt(x)), x)])
    values = np.array([-8.0, -1.0, 0.125, 27.0])
    root, grad = f(values)
    np.testing.assert_allclose(root, np.cbrt(values), rtol=1e-15)
    np.testing.assert_allclose(grad, 1 / (3 * np.cbrt(values) ** 2), rtol=1e-14)
    assert T.cbrt(T.bvector()).dtype == "float32" and T.cbrt(T.ivector()).dtype == "float64"


@pytest.fixture
def probe_row(monkeypatch):
    """A table row added with its steps left out (removed again afterwards)."""
    monkeypatch.setattr(elemwise, "SCALAR_OPS", dict(elemwise.SCALAR_OPS))
    scalar = T.ScalarOp("probe_op", 1, "(-{0})", np.negative, lambda d: d[0], None,
                        nonnegative=True)
    table = {**T.ELEMENTWISE, "probe_op": T.Elemwise(scalar)}
    monkeypatch.setitem(T.ELEMENTWISE, "probe_op", table["probe_op"])
    return table


def test_a_missing_step_is_named(probe_row):
    assert reference_problems(probe_row) == [
        f"elementwise op 'probe_op' has no test reference: add it to REFERENCE in "
        f"tests/tensor/test_ops.py ({ROW}, step 2)"]
    with pytest.raises(AssertionError, match="'probe_op' has no test reference"):
        test_ops.reference("probe_op")
    (exported,) = export_problems(probe_row, _readme_section())
    assert "'probe_op' is not exported" in exported and "step 1" in exported
    (flag,) = nonnegative_problems(probe_row)
    assert "'probe_op' is flagged nonnegative" in flag


# --------------------------------------------------------------------------- op families


def op_classes() -> list[type]:
    """Every subclass of Op defined in the cgraph package."""
    found, todo = [], [Op]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return [c for c in found if c.__module__.startswith("cgraph.")]


def _overrides(cls: type, hook: str, base: type = Op) -> bool:
    return getattr(cls, hook) is not getattr(base, hook)


#: op classes that are bases of a family, whose subclasses are the ops
BASES = {LazyOp, IndexOp, UniqueOp}


def family_problems(classes: list[type]) -> list[str]:
    """Ops that miss a step of the family recipe: every op but a view has a kernel
    builder registered for its class, which lowers, plans and has a template."""
    problems = []
    templates = templates_dir()
    for cls in classes:
        label = f"{cls.__module__}.{cls.__qualname__}"
        if issubclass(cls, ViewOp) or cls in BASES:
            continue
        builder = builder_for(cls)
        if builder is None:
            problems.append(f"{label} has no kernel builder: register one with "
                            f"cgraph.kernel.register_kernel ({FAMILY}, step 2)")
            continue
        base = any(issubclass(other, cls) and other is not cls for other in classes)
        for hook in ("make_node", "perform", "infer_shape"):
            if not base and not _overrides(cls, hook):  # a base leaves them to its ops
                problems.append(f"{label} has a C kernel but no {hook} ({FAMILY}, step 1)")
        name = type(builder).__name__
        kind = type(builder)
        if not (_overrides(kind, "lower", KernelBuilder)
                or _overrides(kind, "layout", KernelBuilder)):
            problems.append(f"{label}: its kernel builder {name} defines no lower (nor "
                            f"layout) ({FAMILY}, step 2)")
        if not _overrides(kind, "params", KernelBuilder):
            problems.append(f"{label}: its kernel builder {name} defines no params "
                            f"({FAMILY}, step 2)")
        if not builder.family or not (templates / f"{builder.family}.c.j2").is_file():
            problems.append(f"{label}: its kernel builder {name} names no template: "
                            f"family {builder.family!r} but no templates/"
                            f"{builder.family or '<family>'}.c.j2 ({FAMILY}, step 3)")
    return problems


def test_every_kernel_family_has_its_steps():
    classes = op_classes()
    assert any(builder_for(c) is not None and builder_for(c).family == "elementwise"
               for c in classes)  # the walk found the library
    problems = family_problems(classes)
    assert not problems, "\n".join(problems)


def test_a_family_missing_its_steps_is_named(monkeypatch):
    class ProbeOp(Op):
        def make_node(self, x):
            raise NotImplementedError

    class BareOp(Op):
        pass

    class ProbeKernel(KernelBuilder):
        family = "probe_family"

        def lower(self, node, name, comment, outs, ins):
            raise NotImplementedError

    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_FOUND", {})
    register_kernel(ProbeKernel(), ProbeOp)
    problems = family_problems([ProbeOp, BareOp])
    assert any("ProbeOp has a C kernel but no perform" in p and "step 1" in p
               for p in problems), problems
    assert any("ProbeKernel defines no params" in p and "step 2" in p for p in problems)
    assert any("templates/probe_family.c.j2" in p and "step 3" in p for p in problems)
    assert any("BareOp has no kernel builder" in p and "step 2" in p for p in problems)


def test_a_class_registers_one_builder(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    with pytest.raises(ValueError, match="Elemwise already has the kernel builder"):
        register_kernel(KernelBuilder(), T.Elemwise)


def test_contributing_names_files_that_exist():
    text = CONTRIBUTING.read_text()
    for heading in ("## Adding an elementwise op", "## Adding an op family"):
        assert heading in text, f"CONTRIBUTING.md lost its section {heading!r}"
    paths = set(re.findall(r"`((?:cgraph|tests|templates|csrc)/[\w./]+)`", text))
    assert "cgraph/graph/basic.py" in paths and "cgraph/tensor/math.py" in paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"CONTRIBUTING.md names files that do not exist: {missing}"
