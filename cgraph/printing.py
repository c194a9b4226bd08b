"""`debugprint`: a compiled function's graph (after rewrites) as an indented tree.

Each node prints once with an `[id X]` label; later uses print the label alone. A
fused elementwise node lists the original ops its one loop computes:

    fused{exp,mul,add} [id A] float64[?]  <- output 0
     > t0 = exp(x0)  float64  (exp at model.py:12)
     > t1 = mul(t0, x1)  float64  (mul at model.py:12)
     > t2 = add(t1, x2)  float64  (add at model.py:12)
     > outputs: t2
     |x [id B] float64[?]
     |y [id C] float64[?]
     |[1.] [id D] float64[1]
"""

from __future__ import annotations

import string
import sys
from collections.abc import Sequence
from typing import IO, Any

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.tensor.elemwise import Composite


def _label(k: int) -> str:
    letters = string.ascii_uppercase
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = letters[r] + out
    return out


def composite_lines(comp: Composite) -> list[str]:
    """The statements of a fused node, one per original op: `t2 = exp(t1)`."""
    names = [f"x{i}" for i in range(comp.nin)] + [f"t{k}" for k in range(len(comp.steps))]
    lines = []
    for k, step in enumerate(comp.steps):
        args = ", ".join(names[a] for a in step.args)
        note = f"  ({step.note})" if step.note and step.note != step.op.name else ""
        lines.append(f"t{k} = {step.op.name}({args})  {step.dtype}{note}")
    lines.append("outputs: " + ", ".join(names[v] for v in comp.outputs))
    return lines


class _Printer:
    def __init__(self) -> None:
        self.ids: dict[int, str] = {}
        self.lines: list[str] = []

    def ident(self, obj: Any) -> tuple[str, bool]:
        """(label, seen before) of a node or free variable."""
        key = id(obj)
        if key in self.ids:
            return self.ids[key], True
        self.ids[key] = _label(len(self.ids))
        return self.ids[key], False

    def variable(self, v: Variable, prefix: str, note: str = "") -> None:
        node = v.owner
        tail = f"  <- {note}" if note else ""
        name = f" '{v.name}'" if v.name else ""
        if node is None:
            label, _ = self.ident(v)
            text = repr(v) if isinstance(v, Constant) or v.name else f"<{v.type}>"
            self.lines.append(f"{prefix}{text} [id {label}] {v.type}{tail}")
            return
        label, seen = self.ident(node)
        index = f".{v.index}" if len(node.outputs) > 1 else ""
        self.lines.append(f"{prefix}{node.op}{index} [id {label}]{name} {v.type}{tail}")
        if seen:
            return
        if isinstance(getattr(node.op, "scalar_op", None), Composite):
            for line in composite_lines(node.op.scalar_op):
                self.lines.append(f"{prefix} > {line}")
        for inp in node.inputs:
            self.variable(inp, prefix + " |")


def _outputs(obj: Any) -> tuple[list[Variable], list[str]]:
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), [f"output {i}" for i in range(len(obj.outputs))]
    if hasattr(obj, "fgraph") and hasattr(obj, "_n_outputs"):  # a compiled Function
        outs = list(obj.fgraph.outputs)
        n = obj._n_outputs
        notes = [f"output {i}" for i in range(n)]
        notes += [f"update of {t!r}" for t in obj._updates]
        return outs, notes
    if isinstance(obj, Variable):
        return [obj], [""]
    if isinstance(obj, Apply):
        return list(obj.outputs), [""] * len(obj.outputs)
    if isinstance(obj, Sequence):
        outs = [o for o in obj]
        if all(isinstance(o, Variable) for o in outs):
            return outs, [""] * len(outs)
    raise TypeError(f"debugprint takes a Function, a FunctionGraph, a Variable or a list of "
                    f"Variables, got {type(obj).__name__}")


def debugprint(obj: Any, file: IO[str] | str | None = None) -> str | None:
    """Print the graph of `obj` as an indented tree.

    Parameters
    ----------
    obj : Function, FunctionGraph, Variable, Apply or list of Variable
        For a compiled function, the graph after rewrites (what was compiled), its
        outputs and shared-variable updates labelled.
    file : file-like, "str" or None
        Where to write (default: standard output); "str" returns the text instead.

    Returns
    -------
    str or None
        The text, when `file == "str"`.
    """
    outputs, notes = _outputs(obj)
    printer = _Printer()
    for v, note in zip(outputs, notes):
        printer.variable(v, "", note)
    text = "\n".join(printer.lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return None
