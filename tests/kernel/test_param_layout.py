"""Named plan slots (`cgraph.kernel.ParamLayout`): sizes, offsets, built values and the
errors that name the kernel and the field; the planner refuses a kernel's values of
the wrong count; no template writes a slot's position by hand. No compiler needed."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cgraph.tensor as T
from cgraph.codegen import lower, make_plan
from cgraph.codegen.render import templates_dir
from cgraph.graph.fg import FunctionGraph
from cgraph.kernel import LayoutError, ParamLayout
from cgraph.tensor.elemwise_kernel import ElementwiseKernel

OPERAND = ParamLayout("operand", trans=1, ld=1, packed=1)
PRODUCT = ParamLayout("product", M=1, N=1, K=1, sa=2, sb=2, path=1, a=OPERAND, b=OPERAND)
PART = ParamLayout("part", offset=1, shape=2)


def test_sizes_and_offsets():
    layout = ParamLayout("probe", product=PRODUCT, batch=2, strides=(3, 2), parts=(2, PART))
    assert PRODUCT.nparams == 14
    assert layout.nparams == 14 + 2 + 6 + 2 * 3
    p = layout.slots()
    assert (p.product.M, p.product.path, p.product.a.packed, p.product.b.ld) == (0, 7, 10, 12)
    assert (p.batch, p.batch[1], p.strides, p.strides[2]) == (14, 15, 16, 20)
    assert (p.parts[0].offset, p.parts[1].offset, p.parts[1].shape[1]) == (22, 25, 27)
    assert str(p.product) == "0" and int(p.parts[1]) == 25


def test_build_puts_each_field_in_its_slots():
    layout = ParamLayout("probe", size=1, shape=2, strides=(2, 2), parts=(2, PART))
    values = layout.build(size=np.int64(6), shape=(2, 3), strides=[3, 1, 0, 1],
                          parts=[{"offset": 0, "shape": (1, 3)}, [9, 2, 2]])
    assert values == [6, 2, 3, 3, 1, 0, 1, 0, 1, 3, 9, 2, 2]
    assert all(type(v) is int for v in values)
    assert ParamLayout("empty", shape=0).build(shape=()) == []


@pytest.mark.parametrize("values, message", [
    ({"size": 1, "shape": (2, 3, 4)}, "kernel probe: field shape takes 2 integers, got 3"),
    ({"size": (1, 2), "shape": (2, 3)}, "kernel probe: field size takes 1 integers, got 2"),
    ({"size": 1}, "kernel probe: no value for field shape"),
    ({"size": 1, "shape": (2, 3), "stride": 1}, "kernel probe: no field stride"),
    ({"size": 1, "shape": (2, None)}, "kernel probe: field shape takes 2 integers"),
])
def test_a_wrong_value_names_the_kernel_and_the_field(values, message):
    layout = ParamLayout("probe", size=1, shape=2)
    with pytest.raises(LayoutError, match=re.escape(message)):
        layout.build(**values)


def test_nested_and_repeated_fields_check_their_lengths():
    rows = ParamLayout("probe", strides=(3, 2))
    with pytest.raises(LayoutError, match=r"field strides takes 3 x 2 = 6 integers, got 5"):
        rows.build(strides=range(5))
    records = ParamLayout("probe", parts=(2, PART))
    with pytest.raises(LayoutError, match=r"field parts takes 2 records of part, got 1"):
        records.build(parts=[{"offset": 0, "shape": (1, 1)}])
    with pytest.raises(LayoutError, match=r"kernel part: field shape takes 2 integers"):
        records.build(parts=[{"offset": 0, "shape": (1,)}, {"offset": 0, "shape": (1, 1)}])
    nested = ParamLayout("dot", product=PRODUCT)
    with pytest.raises(LayoutError, match=r"field product \(product\) takes 14 integers, got 13"):
        nested.build(product=[0] * 13)


def test_offsets_are_checked():
    p = ParamLayout("probe", shape=2, strides=(3, 2)).slots()
    assert p.strides[2] == 6
    with pytest.raises(LayoutError, match="field strides has 3 entries: no entry 3"):
        p.strides[3]
    with pytest.raises(LayoutError, match="field shape has 2 entries: no entry 2"):
        p.shape[2]
    with pytest.raises(AttributeError, match="kernel probe has no plan field size"):
        _ = p.size
    with pytest.raises(LayoutError, match="field shape has size -1"):
        ParamLayout("probe", shape=-1)


def test_the_repr_is_plain_data():
    layout = ParamLayout("dot", product=PRODUCT, batch=2)
    assert eval(repr(layout), {"ParamLayout": ParamLayout}) == layout


def lowered_example():
    x, y = T.dmatrix("x"), T.dvector("y")
    fgraph = FunctionGraph([x, y], [T.exp(x) + y, T.sum(x, axis=0), T.concatenate([y, y])])
    return lower(fgraph)


def test_each_kernel_owns_a_block_of_its_layouts_size():
    lowered = lowered_example()
    program = lowered.program
    assert {s.kernel.family for s in program.steps} >= {"elementwise", "careduce", "join"}
    owner = {0: "workspace size"}
    for decl in program.decls:
        if decl.slot >= 0:
            owner[decl.slot] = decl.name
    for step in program.steps:
        for slot in range(step.slot, step.slot + step.kernel.nparams):
            assert slot not in owner, f"{step.kernel.name} and {owner[slot]} share slot {slot}"
            owner[slot] = step.kernel.name
    assert max(owner) < program.n_slots
    plan = make_plan(lowered, ((2, 3), (3,)))
    for node in lowered.nodes:
        kernel = lowered.kernels.get(id(node))
        if kernel is not None and kernel.family == "join":
            start = lowered.kernel_slots[id(node)]
            p = kernel.layout.slots(start)
            assert plan.params[p.parts[1].offset] == 3  # the second copy starts at y's end
            assert list(plan.params[p.parts[1].shape:p.parts[1].shape + 1]) == [3]


def test_the_planner_refuses_a_kernel_writing_past_its_slots(monkeypatch):
    lowered = lowered_example()
    real = ElementwiseKernel.params

    def one_too_many(self, kernel, *args):
        return [*real(self, kernel, *args), 0]

    monkeypatch.setattr(ElementwiseKernel, "params", one_too_many)
    with pytest.raises(LayoutError, match=r"kernel k\d+ \(elementwise\) of node .*: 9 plan "
                                          r"values for its 8 slots"):
        make_plan(lowered, ((2, 3), (3,)))


def test_no_template_writes_a_plan_position_by_hand():
    # A kernel's slots are read through the offsets of its layout (`p[{{ p.size }}]`);
    # a literal `p[3]` or `p + 5` would silently go wrong when the layout changes.
    found = []
    for path in sorted(templates_dir().glob("*.c.j2")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b[pq]\[\d|\bp \+ \d", line):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_pickled_layout_builds_the_same_list():
    """Kinds are compared by value: a layout from a pickle (a warm-start record)
    builds nested and record fields as the original does."""
    import pickle

    inner = ParamLayout("part", shape=2, strides=2)
    layout = ParamLayout("k", rows=1, part=inner, parts=(2, inner))
    values = {"rows": 3, "part": {"shape": (4, 5), "strides": (5, 1)},
              "parts": [{"shape": (1, 2), "strides": (2, 1)},
                        {"shape": (3, 4), "strides": (4, 1)}]}
    again = pickle.loads(pickle.dumps(layout))
    assert again.build(**values) == layout.build(**values)
