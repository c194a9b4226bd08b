"""Short, stable labels for the nodes of a graph: `A`, `B`, ..., `Z`, `AA`, ...

`debugprint` shows them as `[id A]`, and the generated C names each kernel's node
with the same label, so a line of one can be found in the other. Labels follow a
depth-first walk from the outputs, inputs left to right: they depend only on the
graph's structure.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from cgraph.graph.basic import Variable


def letters(k: int) -> str:
    """The k-th label (0 -> "A", 25 -> "Z", 26 -> "AA")."""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = string.ascii_uppercase[r] + out
    return out


def node_labels(outputs: Iterable[Variable]) -> dict[int, str]:
    """Label every node and every leaf (input, shared variable, constant) of a graph.

    Returns
    -------
    dict
        `id(node)` for computed variables' owners, `id(variable)` for leaves -> label,
        in the order a depth-first walk from `outputs` meets them.
    """
    labels: dict[int, str] = {}
    stack = list(reversed(list(outputs)))
    while stack:
        v = stack.pop()
        key = id(v) if v.owner is None else id(v.owner)
        if key in labels:
            continue
        labels[key] = letters(len(labels))
        if v.owner is not None:
            stack.extend(reversed(v.owner.inputs))
    return labels


def label_of(labels: dict[int, str], v: Variable) -> str:
    """The label of a variable: its own for a leaf, its node's otherwise ("" if none)."""
    return labels.get(id(v) if v.owner is None else id(v.owner), "")
