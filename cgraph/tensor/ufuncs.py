"""numpy ufuncs applied to symbolic tensors, and the truth value of a tensor.

`np.exp(x)` of a TensorVariable builds cgraph's `exp(x)`, as PyTensor does: numpy
hands the call to `TensorVariable.__array_ufunc__`, which looks the ufunc up in
`UFUNCS`. So do numpy's operators with an array on the left (`array + x` is
`np.add(array, x)`). A ufunc without a cgraph twin, a ufunc method (`np.add.reduce`)
or an `out=` argument raises TypeError naming it.

`bool(x)` follows Theano: a variable is True (`if x:` tests that it exists), but a
boolean result of an op (`a < b`, `T.eq(a, b)`, `T.isnan(x)`) raises TypeError, since
its value is not known when the graph is built (`if a < b:` and `a < b < c` would
silently test nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cgraph.tensor import blas
from cgraph.tensor import math as m
from cgraph.tensor.type import TensorVariable

__all__ = ["UFUNCS", "array_ufunc", "truth"]


def _logical(op: Callable) -> Callable:
    """numpy's logical_and & co.: truth values of any dtype in, bool out."""
    return lambda a, b: op(m.neq(a, 0), m.neq(b, 0))


def _isfinite(x: Any) -> TensorVariable:
    return m.logical_not(m.or_(m.isnan(x), m.isinf(x)))


def _positive(x: Any) -> TensorVariable:
    return m.tensor_copy(x)


#: Aliases: numpy's name -> the name of cgraph's op in `cgraph.tensor.math`.
_SAME_OP = {
    "absolute": "abs", "acos": "arccos", "acosh": "arccosh",
    "asin": "arcsin", "asinh": "arcsinh", "atan": "arctan", "atanh": "arctanh",
    "atan2": "arctan2", "divide": "true_div", "equal": "eq", "not_equal": "neq",
    "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le",
    "floor_divide": "int_div", "remainder": "mod", "multiply": "mul", "subtract": "sub",
    "negative": "neg", "degrees": "rad2deg", "radians": "deg2rad", "rint": "round",
    "bitwise_invert": "invert", "conj": "tensor_copy", "conjugate": "tensor_copy",
}


def _table() -> dict[np.ufunc, Callable]:
    table: dict[np.ufunc, Callable] = {}
    # numpy's own namespace, not dir(np): getattr would import every lazily loaded
    # submodule (f2py, testing, ma, polynomial...), about half of `import cgraph`.
    for name, ufunc in sorted(vars(np).items()):
        if not isinstance(ufunc, np.ufunc):
            continue
        op = getattr(m, _SAME_OP.get(name, name), None)
        if callable(op) and not isinstance(op, type):
            table[ufunc] = op
    table.update({
        np.matmul: blas.matmul, np.logical_and: _logical(m.and_),
        np.logical_or: _logical(m.or_), np.logical_xor: _logical(m.xor),
        np.isfinite: _isfinite, np.positive: _positive,
    })
    return table


#: numpy ufunc -> the cgraph function that builds it.
UFUNCS: dict[np.ufunc, Callable] = _table()


def array_ufunc(self: TensorVariable, ufunc: np.ufunc, method: str, *inputs: Any,
                **kwargs: Any) -> TensorVariable:
    """`TensorVariable.__array_ufunc__`: numpy's `ufunc(*inputs)` as a cgraph graph."""
    if method != "__call__":
        raise TypeError(f"numpy's {ufunc.__name__}.{method} does not apply to the symbolic "
                        f"tensor {self!r}; use cgraph.tensor's reductions (T.sum, T.max...)")
    if kwargs:
        raise TypeError(f"numpy's {ufunc.__name__} of a symbolic tensor takes no "
                        f"{', '.join(sorted(kwargs))} argument: it builds a new tensor")
    op = UFUNCS.get(ufunc)
    if op is None:
        raise TypeError(f"numpy's {ufunc.__name__} has no cgraph version, so it cannot apply "
                        f"to the symbolic tensor {self!r}; write it with cgraph.tensor ops")
    return op(*inputs)


def truth(self: TensorVariable) -> bool:
    """`bool(x)`: True, except for a boolean result of an op (TypeError)."""
    if self.owner is not None and self.dtype == "bool":
        raise TypeError(f"the truth value of {self!r}, a symbolic boolean, is not known "
                        "when the graph is built: `if a < b:` and `a < b < c` cannot work; "
                        "use cgraph.tensor.switch(cond, x, y) or ifelse")
    return True
