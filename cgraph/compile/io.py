"""`In` and `Out`: Theano's input and output specifications for `function`, and the
`Binding` of a call's arguments to the inputs they specify."""

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


class Binding:
    """How a function with inputs `specs` takes its arguments: by position (the inputs
    not `implicit`), by keyword (the inputs' names) and from default values."""

    def __init__(self, specs: list[In]):
        self.specs = specs
        self.by_name = {s.name: i for i, s in enumerate(specs) if s.name}
        positions: dict[str, list[int]] = {}
        for i, s in enumerate(specs):
            if s.name:
                positions.setdefault(s.name, []).append(i)
        #: names that several inputs have -> their positions
        self.ambiguous = {n: where for n, where in positions.items() if len(where) > 1}
        #: some input is implicit: every call needs binding
        self.implicit = any(s.implicit for s in specs)

    def bind(self, args: tuple, kwargs: dict, label: str) -> tuple:
        """The arguments in input order; TypeError (naming `label`, the function) for
        too many, missing, unknown, repeated or ambiguous ones."""
        specs = self.specs
        if not kwargs and all(s.value is None for s in specs):
            raise TypeError(f"{label} takes {len(specs)} argument(s), got {len(args)}")
        positional = [i for i, s in enumerate(specs) if not s.implicit]
        if len(args) > len(positional):
            raise TypeError(f"{label} takes {len(positional)} positional argument(s), "
                            f"got {len(args)}")
        values: dict[int, Any] = dict(zip(positional, args))
        for key, value in kwargs.items():
            i = self.by_name.get(key)
            if key in self.ambiguous:
                where = " and ".join(map(str, self.ambiguous[key]))
                raise TypeError(f"{label}: the keyword {key!r} is ambiguous: inputs "
                                f"{where} are all named {key!r}; pass them by position or "
                                "give the inputs distinct names")
            if i is None:
                raise TypeError(f"{label} has no input named {key!r}")
            if i in values:
                raise TypeError(f"{label} got input {key!r} twice")
            values[i] = value
        for i, s in enumerate(specs):
            if i not in values:
                if s.value is None:
                    raise TypeError(f"{label}: missing input {i} ({s.name or s.variable!r})")
                values[i] = s.value
        return tuple(values[i] for i in range(len(specs)))
