"""A node lowered to C, as plain data: `Kernel`, its `Operand`s and, for elementwise
loops, its `Statement`s. The templates render these; their repr is part of the
program's cache key, so every field is plain and deterministic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cgraph.kernel.layout import ParamLayout

#: the plan field holding the offset of a kernel's scratch block in the workspace
SCRATCH = "scratch"


@dataclass(frozen=True)
class Operand:
    """A kernel argument: the variable passed (`var`), its C type, and whether it is
    known to hold a single element (static broadcast)."""

    var: str
    ctype: str
    scalar: bool = False


@dataclass(frozen=True)
class Statement:
    """`const ctype name = expr;  /* note where */` inside an elementwise loop body.

    `where` (the user's line) is left out of the repr, hence out of every cache key:
    the same graph built on another line, or in another file, is the same C module.
    """

    name: str
    ctype: str
    expr: str
    note: str = ""
    where: str = field(default="", repr=False, compare=False)

    @property
    def remark(self) -> str:
        """The C comment's text: the original op and where it was built."""
        return self.note + self.where


@dataclass(frozen=True)
class Kernel:
    """A node lowered to C: `family` picks the template `templates/<family>.c.j2`;
    `layout` names the plan slots it reads (the template gets their offsets as `p`).

    `context` carries family-specific data for the template (`k.context.axis`...);
    keep its values plain (ints, strings, tuples) so that its repr is deterministic.
    """

    family: str
    name: str
    text: str
    outputs: tuple[Operand, ...]
    inputs: tuple[Operand, ...]
    layout: ParamLayout
    ndim: int = 0
    statements: tuple[Statement, ...] = ()
    results: tuple[str, ...] = ()
    accumulate: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    #: `  at file.py:12`, where the user built the node: not in the repr, so that the
    #: cache keys do not change when the user's code moves (see Statement)
    where: str = field(default="", repr=False, compare=False)

    @property
    def nparams(self) -> int:
        """The number of plan slots the kernel reads."""
        return self.layout.nparams

    @property
    def scratch(self) -> bool:
        """Whether the kernel gets the workspace pointer `ws`: its layout has a field
        `scratch` (`SCRATCH`), where the planner writes the offset in `ws` of the
        block of `KernelBuilder.scratch` bytes it reserved for the kernel's call."""
        return any(name == SCRATCH for name, _ in self.layout.fields)

    @property
    def comment(self) -> str:
        """The kernel's C comment: what it computes and where the user built it."""
        return self.text + self.where
