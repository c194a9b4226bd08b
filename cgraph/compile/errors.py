"""Errors that point at the user: the failing node, its shapes, the line that made it.

A compiled function fails in three places, and each error is completed here:

- planning a call shape (`ShapeError`): the node, its `[id X]` label (as
  `debugprint(f)` shows it), the input shapes, and for a fused loop the original
  operation whose shapes do not broadcast, with its own line;
- running the C (a kernel returned an error code): the kernel appends
  `[kernel k3]` to its message (csrc/cgraph.h `cg_failed_in`), which is mapped
  back to the node, with the input shapes of the call;
- compiling the C (`CompileError`): each of the compiler's first errors is mapped
  to the kernel around that line, its template and its node.

With `config.exception_verbosity = "high"`, run-time errors also list the nodes
that feed the failing one, with their shapes and lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from cgraph import backend
from cgraph.codegen import ShapeError, make_plan
from cgraph.codegen.lower import Lowered, Program
from cgraph.codegen.plan import describe
from cgraph.graph.basic import Apply, toposort
from cgraph.graph.labels import node_labels
from cgraph.tensor.elemwise import FusedElemwise, FusedSum, broadcast_shapes, broadcast_static
from cgraph.tensor.fused_sum_to import FusedSumTo

#: kernel return codes (CG_ERR_* in csrc/cgraph.h) -> the exception raised.
C_ERRORS = {1: RuntimeError, 2: IndexError, 3: ValueError, 4: MemoryError,
            5: np.linalg.LinAlgError}
_KERNEL_MARK = re.compile(r" \[kernel (\w+)\]")
#: nodes listed above a failing one with exception_verbosity "high".
_MAX_FEEDING = 12


def _node_text(node: Apply, labels: dict[int, str]) -> str:
    label = labels.get(id(node))
    return f"[id {label}] {describe(node)}" if label else describe(node)


def _fused_part(node: Apply, in_shapes: tuple) -> str:
    """For a fused loop whose shapes fail: the original operation that fails."""
    if not isinstance(node.op, (FusedElemwise, FusedSum, FusedSumTo)):
        return ""
    comp = node.op.scalar_op
    if len(in_shapes) != comp.nin:
        return ""
    shapes = [tuple(s) for s in in_shapes]
    static = [v.type.shape for v in node.inputs]
    names = [f"x{i}" for i in range(comp.nin)] + [f"t{k}" for k in range(len(comp.steps))]
    for k, step in enumerate(comp.steps):
        args = [shapes[a] for a in step.args]
        arg_static = [static[a] for a in step.args]
        try:
            shapes.append(broadcast_shapes(args, str(step.op), arg_static))
            static.append(broadcast_static(arg_static, str(step.op)))
        except ValueError:
            call = f"t{k} = {step.op}({', '.join(names[a] for a in step.args)})"
            where = f" ({step.note})" if step.note else ""
            return (f"\n  the failing part: {call} with shapes "
                    f"{', '.join(map(str, args))}{where}")
    return ""


def _feeding(node: Apply, shapes: dict | None, labels: dict[int, str]) -> str:
    """The nodes computing `node`'s inputs, nearest last, with shapes and lines."""
    upstream = toposort(node.inputs)[-_MAX_FEEDING:]
    if not upstream:
        return ""
    lines = ["\n  computed from:"]
    for n in upstream:
        got = ""
        if shapes is not None:
            found = [shapes.get(id(o)) for o in n.outputs]
            got = "  shape " + ", ".join(str(s) for s in found if s is not None)
        lines.append(f"    {_node_text(n, labels)}{got}")
    return "\n".join(lines)


def explain_shape_error(err: ShapeError, fgraph: Any, verbosity: str) -> ShapeError:
    """The same error, naming the node by its debugprint label, the fused operation
    that fails with its own line, and (verbosity "high") the nodes feeding it."""
    node = err.node
    if node is None:
        return err
    labels = node_labels(fgraph.outputs)
    text = str(err)
    label = labels.get(id(node))
    if label:
        text = text.replace("\n  in node ", f"\n  in node [id {label}] ", 1)
    part = _fused_part(node, err.input_shapes)
    trace = node.tag.get("trace")
    if part and trace:  # fusion built the node, inside the cgraph.function call
        text = text.replace(f"(created at {trace})", f"(fused by cgraph.function at {trace})")
    text += part
    if verbosity == "high":
        text += _feeding(node, None, labels)
    else:
        text += "\n  (config.exception_verbosity='high' lists the nodes feeding it)"
    return ShapeError(text, node, err.input_shapes)


def c_runtime_error(compiled: Any, rc: int, message: str, arrays: list | None,
                    context: str = "") -> Exception:
    """The exception for a kernel's error code: its message, the node it computes (by
    the kernel name the C appended), the node's input shapes for this call (given the
    call's `arrays`). `context` follows "failed", e.g. " at loop step 3".

    `compiled` is the `CompiledModule` that failed (its `lowered`, `fgraph`, `label`
    and `config` are read)."""
    kernels = _KERNEL_MARK.findall(message)
    message = _KERNEL_MARK.sub("", message)
    cls = C_ERRORS.get(rc, RuntimeError)
    lowered: Lowered = compiled.lowered
    by_kernel = {lowered.kernels[id(n)].name: n for n in lowered.nodes
                 if id(n) in lowered.kernels}
    node = next((by_kernel[k] for k in reversed(kernels) if k in by_kernel), None)
    head = f"{compiled.label} failed{context}: {message}"
    if node is None:
        return cls(head)
    shapes = None
    if arrays is not None:
        try:
            shapes = make_plan(lowered, tuple(a.shape for a in arrays), arrays).shapes
        except (ValueError, RuntimeError):
            pass
    labels = node_labels(compiled.fgraph.outputs)
    text = f"{head}\n  in node {_node_text(node, labels)}"
    if shapes is not None:
        got = [shapes.get(id(v), ()) for v in node.inputs]
        text += f"\n  input shapes: {', '.join(map(str, got))}"
    inner = [k for k in kernels if k not in by_kernel]
    if inner:
        text += f"\n  inside its inner kernel {inner[0]} (a scan step)"
    if compiled.config.exception_verbosity == "high":
        text += _feeding(node, shapes, labels)
    return cls(text)


def point_at_kernels(err: backend.CompileError, program: Program) -> backend.CompileError:
    """Add to a compile error, for each error line of the generated file, the kernel
    it is in: its template (`templates/<family>.c.j2`) and its graph node."""
    try:
        lines = Path(err.c_path).read_text().splitlines()
    except OSError:
        return err
    families = {s.kernel.name: s.kernel for s in program.steps}
    c_name = re.escape(Path(err.c_path).name)
    notes = []
    for match in re.finditer(rf"(?m)^{c_name}:(\d+):\d+: error: (.*)$", err.stderr):
        number = int(match.group(1))
        for text in reversed(lines[:number]):
            found = re.match(r"(?:static |CG_KERNEL )?int (\w+)\(", text)
            if found:
                kernel = families.get(found.group(1))
                if kernel is None:
                    where = f"    in {found.group(1)}, rendered from module.c.j2/program.c.j2"
                else:
                    where = (f"    in the kernel of {kernel.comment}\n"
                             f"    ({kernel.name}, rendered from templates/"
                             f"{kernel.family}.c.j2)")
                notes.append(f"  line {number}: {match.group(2)}\n{where}")
                break
    if notes:
        shown = list(dict.fromkeys(notes))[:5]
        err.args = (err.args[0] + "\nin the graph:\n" + "\n".join(shown),)
    return err
