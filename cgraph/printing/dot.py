"""Graph pictures: Graphviz DOT text, rendered by Graphviz's `dot` program.

Inputs are green ellipses, shared variables yellow cylinders, constants grey
rounded boxes, operations blue boxes (a fused loop lists its parts), outputs and
updates red double ellipses (an update has a dashed arrow back to its shared
variable). Every node carries the `[id X]` label that debugprint and the C use.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cgraph.compile.function import Function
from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.labels import label_of
from cgraph.printing.view import GraphView, composite_lines, fused_parts, graph_view

#: DOT attributes of each kind of node.
STYLES = {
    "input": 'shape=ellipse, style=filled, fillcolor="#d9f2d9"',
    "shared": 'shape=cylinder, style=filled, fillcolor="#fde9b6"',
    "constant": 'shape=box, style="rounded,filled", fillcolor="#eeeeee", fontsize=10',
    "op": 'shape=box, style=filled, fillcolor="#dbe8fb"',
    "fused": 'shape=box, style=filled, fillcolor="#c3d7f7"',
    "output": 'shape=ellipse, style=filled, fillcolor="#f8d0d0", peripheries=2',
}
#: graphs with more nodes are not drawn inline in notebooks (the text repr is used).
NOTEBOOK_MAX_NODES = 400


class GraphvizNotFound(RuntimeError):
    """Rendering needs Graphviz's `dot` program, which is not installed."""


def _quote(text: str) -> str:
    """A DOT string literal; `\\l` line ends (left-justified) are kept."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\\\\l", "\\l") + '"'


def _leaf_label(v: Variable, kind: str, label: str) -> str:
    if kind == "constant":
        text = v.name or repr(v)
        if len(text) > 30:
            text = text[:27] + "..."
        return f"{text}\n[id {label}]  {v.type}"
    name = v.name or ("shared" if kind == "shared" else "input")
    return f"{name}\n[id {label}]  {v.type}"


def _node_label(node: Apply, label: str) -> str:
    types = ", ".join(str(o.type) for o in node.outputs)
    names = [o.name for o in node.outputs if o.name]
    head = f"{node.op}" + (f"  ({', '.join(names)})" if names else "")
    lines = [head, f"[id {label}]  {types}"]
    comp = fused_parts(node)
    if comp is not None:
        return "\n".join(lines) + "\n" + "".join(f"{line}\\l" for line in composite_lines(comp))
    if node.tag.get("trace"):
        lines.append("at " + Path(node.tag["trace"]).name)
    return "\n".join(lines)


def to_dot(obj: Any, name: str = "cgraph") -> str:
    """The graph of `obj` as Graphviz DOT text.

    Parameters
    ----------
    obj : Function, FunctionGraph, Variable or list of Variable
        As for `debugprint`: a compiled function shows the graph that was compiled,
        with its outputs and updates.
    name : str
        The DOT graph's name.

    Returns
    -------
    str
        `digraph name { ... }`, to render with `dot -Tsvg` (see `pydotprint`).
    """
    view = graph_view(obj)
    lines = [f"digraph {_quote(name)} {{", '  rankdir=TB;',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    done: set[int] = set()
    stack = list(view.outputs)
    while stack:
        v = stack.pop()
        key = id(v) if v.owner is None else id(v.owner)
        if key in done:
            continue
        done.add(key)
        label = view.labels[key]
        if v.owner is None:
            kind = view.kind(v)
            lines.append(f"  n{label} [label={_quote(_leaf_label(v, kind, label))}, "
                         f"{STYLES[kind]}];")
            continue
        node = v.owner
        style = STYLES["fused" if fused_parts(node) is not None else "op"]
        lines.append(f"  n{label} [label={_quote(_node_label(node, label))}, {style}];")
        for position, inp in enumerate(node.inputs):
            lines.append(f"  n{label_of(view.labels, inp)} -> n{label}"
                         + _edge_label(inp, position, len(node.inputs)) + ";")
            stack.append(inp)
    lines.extend(_output_lines(view))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge_label(v: Variable, position: int, n_inputs: int) -> str:
    parts = []
    if v.owner is not None and len(v.owner.outputs) > 1:
        parts.append(f"out {v.index}")
    if n_inputs > 1:
        parts.append(f"in {position}")
    return f" [label={_quote(', '.join(parts))}]" if parts else ""


def _output_lines(view: GraphView) -> list[str]:
    lines = []
    for k, (v, note) in enumerate(zip(view.outputs, view.notes)):
        text = f"{note or 'output'}\n{v.type}"
        lines.append(f"  out{k} [label={_quote(text)}, {STYLES['output']}];")
        lines.append(f"  n{label_of(view.labels, v)} -> out{k}{_edge_label(v, 0, 1)};")
        if note.startswith("update of "):
            target = _shared_named(view, note[len("update of "):])
            if target is not None:
                lines.append(f"  out{k} -> n{label_of(view.labels, target)} "
                             "[style=dashed, constraint=false, label=\"next value\"];")
    return lines


def _shared_named(view: GraphView, name: str) -> Variable | None:
    for v in _leaves(view):
        if view.kind(v) == "shared" and repr(v) == name:
            return v
    return None


def _leaves(view: GraphView) -> list[Variable]:
    found: dict[int, Variable] = {}
    stack = list(view.outputs)
    seen: set[int] = set()
    while stack:
        v = stack.pop()
        if v.owner is None:
            found.setdefault(id(v), v)
        elif id(v.owner) not in seen:
            seen.add(id(v.owner))
            stack.extend(v.owner.inputs)
    return list(found.values())


# --------------------------------------------------------------------------- rendering


def _render(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on the text: through the `graphviz` package when it is
    installed, else the `dot` program on PATH."""
    try:
        import graphviz  # optional: `pip install cgraph[viz]`
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(dot_text).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(_missing_message()) from None
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFound(_missing_message())
    done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _missing_message() -> str:
    return ("drawing a graph needs Graphviz's `dot` program, which is not on PATH: install "
            "Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install "
            "graphviz`, conda: `conda install graphviz`). `pip install cgraph[viz]` adds the "
            "`graphviz` Python package, which also needs that program. "
            "cgraph.printing.to_dot(obj) gives the DOT text without it.")


def graphviz_available() -> bool:
    """Whether Graphviz's `dot` program can be run."""
    return shutil.which("dot") is not None


def to_svg(obj: Any) -> str:
    """The graph of `obj` rendered as SVG text (raises GraphvizNotFound without dot)."""
    return _render(to_dot(obj), "svg").decode("utf-8")


def pydotprint(obj: Any, outfile: str | Path = "graph.svg", format: str | None = None) -> str:
    """Draw the graph of `obj` into a file with Graphviz (Theano's `pydotprint`).

    Parameters
    ----------
    obj : Function, FunctionGraph, Variable or list of Variable
        What to draw (see `to_dot`).
    outfile : str or Path
        The picture's path; its suffix picks the format (.svg, .png, .pdf; .dot
        writes the DOT text and needs no Graphviz).
    format : str, optional
        A Graphviz output format, overriding the suffix.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    GraphvizNotFound
        When Graphviz's `dot` program is not installed (the message says how to
        install it).
    """
    path = Path(outfile)
    fmt = format or path.suffix.lstrip(".").lower() or "svg"
    text = to_dot(obj, name=path.stem or "cgraph")
    if fmt in ("dot", "gv"):
        path.write_text(text)
    else:
        path.write_bytes(_render(text, fmt))
    return str(path)


# --------------------------------------------------------------------------- notebooks


def _count_nodes(obj: Any) -> int:
    view = graph_view(obj)
    return len(view.labels)


def notebook_svg(obj: Any) -> str | None:
    """SVG of a Function or a computed Variable for Jupyter, or None (then Jupyter
    shows the text repr): for a leaf, a graph over `NOTEBOOK_MAX_NODES` nodes, or
    when Graphviz is missing."""
    if isinstance(obj, Variable) and (obj.owner is None or isinstance(obj, Constant)):
        return None
    if isinstance(obj, Function) and obj.fgraph is None:
        return None
    try:
        if _count_nodes(obj) > NOTEBOOK_MAX_NODES or not graphviz_available():
            return None
        return to_svg(obj)
    except (GraphvizNotFound, RuntimeError, TypeError, OSError, subprocess.TimeoutExpired):
        return None


def register_notebook_display(shell: Any = None) -> bool:
    """Show compiled functions and variables as pictures in IPython/Jupyter.

    `import cgraph` calls it: inside a running IPython it registers `notebook_svg`
    as the `image/svg+xml` formatter of `Variable` and `Function`. Call it again
    (or pass `shell`) if IPython started after cgraph was imported.

    Returns
    -------
    bool
        Whether a shell was found and the formatters registered.
    """
    if shell is None:
        ipython = sys.modules.get("IPython")
        get = getattr(ipython, "get_ipython", None)
        shell = get() if get is not None else None
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["image/svg+xml"]
    for cls in (Variable, Function):
        formatter.for_type(cls, notebook_svg)
    return True
