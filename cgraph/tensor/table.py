"""The machinery of the elementwise op table (`cgraph/tensor/math.py` holds the rows):
the dtype rules a row names, `_elementwise`, which registers a row in `ELEMENTWISE`
and makes its function, and the docstring each function gets from its row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.type import TensorVariable

#: name -> Elemwise op, for every table entry (the tests iterate over it).
ELEMENTWISE: dict[str, Elemwise] = {}

# --------------------------------------------------------------------------- dtype rules


def upcast(dtypes: Sequence[str]) -> str:
    """numpy's result type of the inputs."""
    return str(np.result_type(*dtypes))


def to_float(dtypes: Sequence[str]) -> str:
    """Like upcast, but integers become floats (small ones float32, as numpy)."""
    dtype = upcast(dtypes)
    if dtype.startswith("float"):
        return dtype
    return "float32" if np.dtype(dtype).itemsize <= 2 else "float64"


def to_floatx(dtypes: Sequence[str]) -> str:
    """Floats keep their upcast dtype; integers give config.floatX (Theano's true_div)."""
    dtype = upcast(dtypes)
    return dtype if dtype.startswith("float") else config.floatX


def to_bool(dtypes: Sequence[str]) -> str:
    return "bool"


def second_dtype(dtypes: Sequence[str]) -> str:
    return dtypes[1]


def int_arith(dtypes: Sequence[str]) -> str:
    """Like upcast, but bools become int8 (numpy's //, % and ** of two bools)."""
    dtype = upcast(dtypes)
    return "int8" if dtype == "bool" else dtype


def no_bool(what: str) -> Callable[[Sequence[str]], str]:
    """Like upcast, but raise TypeError when every input is bool (numpy refuses too)."""
    def rule(dtypes: Sequence[str]) -> str:
        dtype = upcast(dtypes)
        if dtype == "bool":
            raise TypeError(f"{what} of bools is not supported (as in numpy); use "
                            "cgraph.tensor.xor or invert, or cast to an integer first")
        return dtype
    return rule


def _elementwise(name: str, nin: int, c: str, impl: Callable, dtype: Callable,
                 grad: Callable | None, c_int: str | None = None, doc: str = "",
                 c_bool: str | None = None, common: tuple[int, ...] | None = None,
                 nonnegative: bool = False) -> Callable:
    """Register one table row (a `ScalarOp`, see its fields) and return its function."""
    op = Elemwise(ScalarOp(name, nin, c, impl, dtype, grad, c_int, c_bool, common,
                           nonnegative=nonnegative))
    ELEMENTWISE[name] = op

    def apply(*args: Any) -> TensorVariable:
        return op(*args)

    apply.__name__ = name
    apply.__doc__ = _row_doc(name, doc, dtype)
    return apply


def _row_doc(name: str, doc: str, dtype: Callable) -> str:
    """The row's docstring: what it computes, its dtype rule, its errors."""
    text = doc or f"Elementwise {name} with numpy broadcasting."
    rule = _DTYPE_DOCS.get(getattr(dtype, "__qualname__", ""), "")
    return "\n\n".join(filter(None, [text, rule, _BROADCAST_ERRORS]))


#: The dtype rule of a table row, said in its function's docstring (by rule).
_DTYPE_DOCS = {
    "upcast": "Dtype: numpy's result type of the inputs (a Python number takes the dtype "
              "of the tensor beside it, Theano's autocast).",
    "to_float": "Dtype: floats keep their common dtype; integer and bool inputs give a "
                "float (float32 for bool and 8- and 16-bit integers, float64 for wider).",
    "to_floatx": "Dtype: floats keep their common dtype; integer and bool inputs give "
                 "config.floatX (Theano's rule).",
    "to_bool": "Dtype: the result is bool.",
    "int_arith": "Dtype: numpy's result type of the inputs, except that two bools give "
                 "int8 (as numpy's `//`, `%` and `**`).",
    "no_bool.<locals>.rule": "Dtype: numpy's result type of the inputs; bool operands "
                             "alone raise TypeError when the graph is built (as numpy).",
    "_bitwise": "Dtype: numpy's result type of integer or bool inputs; a float input "
                "raises TypeError when the graph is built.",
    "_third_and_second": "Dtype: the common type of the second and third inputs (the "
                         "condition keeps its own dtype).",
    "second_dtype": "Dtype: the dtype of the second input.",
}
_BROADCAST_ERRORS = ("Errors: inputs whose shapes do not broadcast raise ValueError naming "
                     "the node and the shapes (when the graph is built if the lengths are "
                     "static, else when the function is called).")
