"""`In` and `Out`: Theano's input and output specifications for `function`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cgraph.graph.basic import Variable


@dataclass
class In:
    """An input of `function`, with options.

    Parameters
    ----------
    variable : Variable
        The free variable.
    name : str, optional
        The keyword that passes it (default: the variable's name).
    value : optional
        A default value: the argument may then be omitted.
    update : Variable, optional
        Not supported (Theano's implicit state); use a shared variable and `updates`.
    mutable, borrow : bool
        Accepted for compatibility: cgraph never writes into arguments.
    implicit : bool
        The input takes its default value and cannot be passed positionally.
    """

    variable: Variable
    name: str | None = None
    value: Any = None
    update: Any = None
    mutable: bool = False
    borrow: bool = False
    implicit: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.variable, Variable):
            raise TypeError(f"In: expected a symbolic variable, got {self.variable!r}")
        if self.update is not None:
            raise NotImplementedError("In(update=...) is not supported: keep the state in a "
                                      "cgraph.shared variable and give function() updates")
        if self.name is None:
            self.name = self.variable.name
        if self.implicit and self.value is None:
            raise ValueError(f"In: the implicit input {self.variable!r} needs a value")


@dataclass
class Out:
    """An output of `function`. `borrow` is accepted for compatibility: outputs are
    always fresh arrays that the caller owns."""

    variable: Variable
    borrow: bool = False
