"""Text views of a graph: `debugprint` (a tree), `pprint` (math) and `show_c` (the C)."""

from __future__ import annotations

import os
import re
import sys
from typing import IO, Any

import numpy as np

from cgraph.compile.function import Function
from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.labels import label_of
from cgraph.printing.view import GraphView, composite_lines, fused_parts, graph_view
from cgraph.tensor.elemwise import Elemwise, FusedSum
from cgraph.tensor.shape import DimShuffle


class _TreePrinter:
    def __init__(self, view: GraphView, depth: int | None, trace: bool) -> None:
        self.view = view
        self.depth = depth
        self.trace = trace
        self.seen: set[int] = set()
        self.lines: list[str] = []

    def variable(self, v: Variable, prefix: str, note: str = "") -> None:
        """Print `v` and, below it, what computes it (each node once: a node met again
        is printed as its line alone). The walk keeps its own stack, not Python's: a
        chain of 20,000 nodes is as deep as the tree goes."""
        stack = [(v, prefix, note, 0)]
        while stack:
            v, prefix, note, level = stack.pop()
            node = v.owner
            tail = f"  <- {note}" if note else ""
            label = label_of(self.view.labels, v)
            if node is None:
                text = repr(v) if isinstance(v, Constant) or v.name else f"<{v.type}>"
                shared = " (shared)" if self.view.kind(v) == "shared" else ""
                self.lines.append(f"{prefix}{text} [id {label}] {v.type}{shared}{tail}")
                continue
            index = f".{v.index}" if len(node.outputs) > 1 else ""
            name = f" '{v.name}'" if v.name else ""
            where = (f"  (at {node.tag['trace']})" if self.trace and node.tag.get("trace")
                     else "")
            self.lines.append(f"{prefix}{node.op}{index} [id {label}]{name} {v.type}{tail}"
                              f"{where}")
            if id(node) in self.seen:
                continue
            self.seen.add(id(node))
            if self.depth is not None and level + 1 >= self.depth:
                if node.inputs:
                    self.lines.append(f"{prefix} |...")
                continue
            comp = fused_parts(node)
            if comp is not None:
                self.lines.extend(f"{prefix} > {line}" for line in composite_lines(comp))
            stack.extend((inp, prefix + " |", "", level + 1) for inp in reversed(node.inputs))


def debugprint(obj: Any, file: IO[str] | str | None = None, depth: int | None = None,
               print_trace: bool = False) -> str | None:
    """Print the graph of `obj` as an indented tree.

    Parameters
    ----------
    obj : Function, FunctionGraph, Variable, Apply or list of Variable
        For a compiled function, the graph after rewrites (what was compiled), its
        outputs and shared-variable updates labelled; its `[id X]` labels are the
        ones in the C (`f.c_source`), the profile and error messages.
    file : file-like, "str" or None
        Where to write (default: standard output); "str" returns the text instead.
    depth : int, optional
        Print this many levels below each output (`|...` marks a cut).
    print_trace : bool
        Add the user's `file:line` where each node was created.

    Returns
    -------
    str or None
        The text, when `file == "str"`.
    """
    view = graph_view(obj)
    printer = _TreePrinter(view, depth, print_trace)
    for v, note in zip(view.outputs, view.notes):
        printer.variable(v, "", note)
    text = "\n".join(printer.lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return None


#: Theano's short name.
dprint = debugprint


# --------------------------------------------------------------------------- pprint

#: scalar op name -> (infix symbol, precedence); Python's precedences.
_BINARY = {
    "pow": ("**", 14), "mul": ("*", 12), "true_div": ("/", 12), "int_div": ("//", 12),
    "mod": ("%", 12), "add": ("+", 11), "sub": ("-", 11), "and_": ("&", 8),
    "xor": ("^", 7), "or_": ("|", 6), "lt": ("<", 5), "gt": (">", 5), "le": ("<=", 5),
    "ge": (">=", 5), "eq": ("==", 5), "neq": ("!=", 5),
}
_UNARY = {"neg": ("-", 13), "logical_not": ("~", 13), "invert": ("~", 13)}
_ATOM = 100


def _number(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        item = arr.item()
        if isinstance(item, float) and item.is_integer() and abs(item) < 1e15:
            return str(int(item))
        return repr(item)
    if arr.size <= 6:
        return np.array2string(arr, separator=", ")
    return f"<constant {arr.dtype}{list(arr.shape)}>"


def _apply_scalar(name: str, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Text and precedence of scalar op `name` on (text, precedence) arguments."""
    if name in _BINARY and len(args) == 2:
        symbol, prec = _BINARY[name]
        (a, pa), (b, pb) = args
        right_assoc = name == "pow"
        left = a if pa > prec or (pa == prec and not right_assoc) else f"({a})"
        right = b if pb > prec or (pb == prec and right_assoc) else f"({b})"
        if prec == 5 and pa == 5:
            left = f"({a})"  # comparisons do not chain as in Python
        return f"{left} {symbol} {right}", prec
    if name in _UNARY and len(args) == 1:
        symbol, prec = _UNARY[name]
        a, pa = args[0]
        return f"{symbol}{a if pa >= prec else f'({a})'}", prec
    return f"{name}({', '.join(a for a, _ in args)})", _ATOM


#: pprint's limit on one expression's text: a graph that reads a value twice per layer
#: (the residual chain's y) has a text twice as long per layer, which would fill the
#: memory rather than print.
MAX_PPRINT_CHARS = 1_000_000


class _MathPrinter:
    def __init__(self) -> None:
        self.memo: dict[int, tuple[str, int]] = {}

    def expr(self, v: Variable, top: bool = False) -> tuple[str, int]:
        """The text and precedence of `v` (a named variable is its name, unless `top`).
        Its parts are made producers first, on a stack of this walk's own: a chain of
        20,000 nodes is no deeper for Python than one node."""
        if v.name and not top:
            return v.name, _ATOM
        stack = [v]
        while stack:
            u = stack[-1]
            if id(u) in self.memo:
                stack.pop()
                continue
            node = u.owner
            if node is None:
                text = _number(u.data) if isinstance(u, Constant) else (u.name or f"<{u.type}>")
                self.memo[id(u)] = (text, _ATOM)
                stack.pop()
                continue
            pending = [i for i in node.inputs if not i.name and id(i) not in self.memo]
            if pending:
                stack.extend(reversed(pending))
                continue
            stack.pop()
            text, prec = self.memo[id(u)] = self.node(node, u)  # inputs made: no recursion
            if len(text) > MAX_PPRINT_CHARS:
                raise ValueError(
                    f"pprint: the expression of {u!r} is over {MAX_PPRINT_CHARS:,} characters "
                    "long (a value read twice per layer doubles the text per layer); "
                    "debugprint prints each node once")
        return self.memo[id(v)]

    def node(self, node: Apply, v: Variable) -> tuple[str, int]:
        op = node.op
        args = [self.expr(i) for i in node.inputs]
        comp = fused_parts(node)
        if comp is not None:
            values = list(args)
            for step in comp.steps:
                values.append(_apply_scalar(step.op.name, [values[a] for a in step.args]))
            text, prec = values[comp.outputs[v.index or 0]]
            if isinstance(op, FusedSum):
                return f"sum({text})", _ATOM
            return text, prec
        if isinstance(op, Elemwise):
            return _apply_scalar(op.scalar_op.name, args)
        if type(op) is DimShuffle:  # not Squeeze
            order = tuple(op.new_order)
            if [a for a in order if a != "x"] == list(range(op.input_ndim)):
                return args[0]  # only adds broadcastable axes: numpy does it implicitly
            base = args[0][0] if args[0][1] == _ATOM else f"({args[0][0]})"
            if order == (1, 0):
                return f"{base}.T", _ATOM
            return f"{base}.dimshuffle({', '.join(map(repr, order))})", _ATOM
        index = f"[{v.index}]" if len(node.outputs) > 1 else ""
        return f"{op}({', '.join(a for a, _ in args)}){index}", _ATOM


def pprint(obj: Any) -> str:
    """The graph of `obj` as math: `exp(sin(x ** 2))`.

    Elementwise ops print infix with Python's precedences, fused loops print as the
    expression they compute, broadcasting dimshuffles are left out (`x + 1`) and
    named variables print by name. Other ops print as calls (`Dot(W, x)`).

    Parameters
    ----------
    obj : Variable, list of Variable or Function
        For a function, one line per output and per update (`update of w: ...`).

    Returns
    -------
    str
        The text (one line per output).
    """
    view = graph_view(obj)
    printer = _MathPrinter()
    lines = []
    for v, note in zip(view.outputs, view.notes):
        text = printer.expr(v, top=True)[0]
        lines.append(f"{note}: {text}" if isinstance(obj, Function | FunctionGraph) else text)
    return "\n".join(lines)


# --------------------------------------------------------------------------- C source

_C_TOKENS = re.compile(
    r"(?P<comment>/\*.*?\*/)|(?P<pre>^[ \t]*#[^\n]*)|(?P<string>\"(?:\\.|[^\"\\])*\")"
    r"|(?P<keyword>\b(?:static|inline|const|restrict|return|if|else|for|while|goto|int|"
    r"double|float|char|void|int64_t|uint8_t|cg_idx|size_t)\b)", re.S | re.M)
_COLORS = {"comment": "\033[32m", "pre": "\033[35m", "string": "\033[33m",
           "keyword": "\033[1m"}


def highlight_c(text: str) -> str:
    """C with ANSI colours: comments green, preprocessor magenta, keywords bold."""
    def paint(match: re.Match) -> str:
        return f"{_COLORS[match.lastgroup]}{match.group()}\033[0m"
    return _C_TOKENS.sub(paint, text)


def _wants_color(file: IO[str]) -> bool:
    isatty = getattr(file, "isatty", None)
    return (bool(isatty and isatty()) and "NO_COLOR" not in os.environ
            and os.environ.get("TERM", "") != "dumb")


#: How the line after a kernel's comment starts in generated C (csrc/cgraph.h's macros).
KERNEL_STARTS = ("static", "CG_KERNEL", "CG_SIMD_KERNEL")


def kernel_source(c_source: str, label: str) -> str:
    """The kernel of the node labelled `label` (`[id A]`) in a module's C, with its
    comment; "" when no kernel has that label."""
    lines = c_source.splitlines()
    for k, line in enumerate(lines):
        if (line.startswith("/*") and f"[id {label}]" in line and k + 1 < len(lines)
                and lines[k + 1].startswith(KERNEL_STARTS)):
            # The kernel ends where the next top-level comment starts.
            end = next((j for j in range(k + 1, len(lines)) if lines[j].startswith("/*")),
                       len(lines))
            text = "\n".join(lines[k:end]).rstrip()
            if "\n#define CG_UNITS " in c_source:  # less its unit's #endif and the next #if
                text = re.sub(r"\n#endif(\s*#if CG_IN_UNIT\(\d+\))?$", "", text).rstrip()
            return text + "\n"
    return ""


def show_c(f: Function, node: str | None = None, file: IO[str] | None = None,
           color: bool | None = None) -> str:
    """Print the C of a compiled function, lightly highlighted on a terminal.

    Parameters
    ----------
    f : Function
        A function compiled in mode "C" (its file is `f.c_path`).
    node : str, optional
        Only the kernel of the node with this `debugprint` label ("A", "B"...).
    file : file-like, optional
        Where to print (default: standard output).
    color : bool, optional
        Force highlighting on or off (default: on for a terminal unless NO_COLOR).

    Returns
    -------
    str
        The C text printed (without colours).
    """
    if f.c_source is None:
        raise ValueError(f"{f!r} has no C source: it was compiled in mode {f.mode!r}")
    text = f.c_source if node is None else kernel_source(f.c_source, node)
    if node is not None and not text:
        raise KeyError(f"no kernel computes a node labelled {node!r}; see debugprint(f)")
    out = file or sys.stdout
    use_color = _wants_color(out) if color is None else color
    out.write(highlight_c(text) if use_color else text)
    return text


