"""`givens` of `function`: the substitutions, checked against the variables they replace.

A replacement must be usable wherever the graph reads the variable: the same rank and
dtype (a lossless cast is added, a lossy one raises TypeError naming the pair and the
cast that fixes it), and static lengths that do not contradict the variable's; a
length the variable states and the replacement does not is checked at each call
(`specify_shape`), since the graph was built relying on it (a length 1 broadcasts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.compile.updates import as_pairs
from cgraph.graph.basic import Variable
from cgraph.tensor.elemwise import cast
from cgraph.tensor.specify_shape import specify_shape
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["as_givens"]


def as_givens(givens: Any) -> dict[Variable, TensorVariable]:
    """`givens` (a dict or (variable, replacement) pairs) as a checked substitution."""
    replace = {}
    for var, value in as_pairs(givens, "givens must be (variable, replacement) pairs"):
        if not isinstance(var, TensorVariable):
            raise TypeError(f"givens: {var!r} is not a symbolic tensor variable")
        replace[var] = _replacement(var, value)
    return replace


def _replacement(var: TensorVariable, value: Any) -> TensorVariable:
    if not isinstance(value, Variable):  # data: a constant of the variable's type
        try:
            value = var.type.filter(value)
        except (TypeError, ValueError) as err:
            raise TypeError(f"givens: the value given for {var!r} ({var.type}) does not fit: "
                            f"{err}") from None
    value = as_tensor_variable(value)
    pair = f"givens: {var!r} ({var.type}) is replaced by {value!r} ({value.type})"
    if value.ndim != var.ndim:
        raise TypeError(f"{pair}: the ranks differ ({var.ndim} and {value.ndim}); reshape or "
                        "dimshuffle the replacement to the variable's rank")
    if value.dtype != var.dtype:
        if not np.can_cast(value.dtype, var.dtype, casting="safe"):
            raise TypeError(f"{pair}: {var.dtype} cannot hold {value.dtype} without loss; "
                            f"cast the replacement (T.cast(replacement, {var.dtype!r})) or "
                            f"make the variable {value.dtype}")
        value = cast(value, var.dtype)
    stated = var.type.shape
    for axis, (want, have) in enumerate(zip(stated, value.type.shape)):
        if want is not None and have is not None and want != have:
            raise TypeError(f"{pair}: the static lengths differ on axis {axis} ({want} and "
                            f"{have})")
    if any(want is not None and have is None for want, have in zip(stated, value.type.shape)):
        value = specify_shape(value, stated)
    return value
