"""The interface of a compiled function: how arguments go in and results come out.

`ArgSpec` says how one argument is checked and converted; `Signature` holds one per
input, with the shared variables the function reads, the ones its updates write, and
the dtypes of its results. Every call path uses these objects: mode "PY", mode "C"
in Python, and the C call path (csrc/cg_fastcall.h), which takes each input's dtype,
rank and converter from its `ArgSpec` (`fastcall.make_caller`), so that the checks of
the three paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from cgraph.compile.shared import SharedVariable
from cgraph.graph.basic import Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.tensor.type import TensorType

__all__ = ["ArgSpec", "Signature"]

#: Array dtypes an argument may have (numpy's type characters of C_TYPES).
_ARRAY_DTYPES = "?bhilqBHILQefd"
_ndarray = np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class ArgSpec:
    """How one argument of a compiled function is checked and converted.

    An argument is used as it is when it is an ndarray of exactly `dtype` and `ndim`,
    C-contiguous and aligned; anything else goes through `convert`.

    Attributes
    ----------
    type : TensorType
        The input's type (dtype and static shape).
    label : str
        Names the input in error messages ("input 0 (x) of type float64[?]").
    allow_downcast : bool or None
        `allow_input_downcast` of `function`: lossy conversions raise unless true.
    dtype : numpy dtype
        The dtype the kernels read.
    ndim : int
        The rank the kernels read.
    safe_dtypes : frozenset of numpy dtype
        Array dtypes converted to `dtype` without a loss (numpy's "safe" casting).
    stated_lengths : callable or None
        `stated_lengths(shape)`: the entries of `shape` on the axes whose length the
        type states, to compare with `stated`; None when it states none.
    stated : int or tuple of int
        The lengths the type states (one int for one axis, as `itemgetter` gives).
    """

    type: TensorType
    label: str
    allow_downcast: bool | None = None
    dtype: np.dtype = field(init=False)
    ndim: int = field(init=False)
    safe_dtypes: frozenset = field(init=False)
    stated_lengths: Callable[[tuple], Any] | None = field(init=False)
    stated: Any = field(init=False)

    def __post_init__(self) -> None:
        dtype = np.dtype(self.type.dtype)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "ndim", self.type.ndim)
        object.__setattr__(self, "safe_dtypes", frozenset(
            np.dtype(c) for c in _ARRAY_DTYPES if np.can_cast(c, dtype, "safe")))
        axes = [axis for axis, n in enumerate(self.type.shape) if n is not None]
        lengths = itemgetter(*axes) if axes else None
        object.__setattr__(self, "stated_lengths", lengths)
        object.__setattr__(self, "stated", lengths(self.type.shape) if axes else None)

    def off_shape(self, shape: tuple[int, ...]) -> bool:
        """Whether `shape` (of this rank) differs from a length the type states."""
        return self.stated_lengths is not None and self.stated_lengths(shape) != self.stated

    @classmethod
    def for_input(cls, var: Variable, position: int, allow_downcast: bool | None) -> ArgSpec:
        """The spec of input `position` of a function, the variable `var`."""
        name = f" ({var.name})" if var.name else ""
        return cls(var.type, f"input {position}{name} of type {var.type}", allow_downcast)

    @property
    def typenum(self) -> int:
        """numpy's type number of `dtype` (what the C call path compares)."""
        return self.dtype.num

    def convert(self, value: Any) -> np.ndarray:
        """`value` as a C-contiguous, aligned array of this input's dtype and rank.

        Lossless conversions are accepted (an int64 array for a float64 input, a Python
        number, a list); a lossy one, or a Python int out of the dtype's range, raises
        TypeError naming the input unless `allow_downcast` allows it (an out-of-range
        Python int always raises). A wrong rank or static shape raises TypeError or
        ValueError naming the input.
        """
        kind = type(value)
        if kind is np.ndarray:
            if (value.ndim == self.ndim and value.dtype in self.safe_dtypes
                    and not self.off_shape(value.shape)):
                return value.astype(self.dtype, order="C")
        elif (kind is float or kind is int) and self.ndim == 0 and self.dtype.kind == "f":
            # A numpy scalar: shaped (), exposes its bytes to cffi, 2x cheaper to make.
            try:
                return self.dtype.type(float(value))
            except OverflowError:  # an int past the largest float
                raise TypeError(f"bad argument for {self.label}: {value} is out of the range "
                                f"of {self.dtype}") from None
        try:
            arr = self.type.filter(value, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as err:
            raise type(err)(f"bad argument for {self.label}: {err}") from None
        flags = arr.flags
        return arr if flags.c_contiguous and flags.aligned else np.array(arr, order="C")

    def rows(self, batched: bool) -> ArgSpec:
        """The spec of a sequence of this input's values (`Function.loop`): a leading
        axis of rows added, or, when `batched` (rows taken in minibatches), the same
        rank with the leading axis of any length."""
        if batched:
            shape = (None, *self.type.shape[1:]) if self.ndim else ()
        else:
            shape = (None, *self.type.shape)
        return ArgSpec(TensorType(self.type.dtype, shape), self.label, self.allow_downcast)


@dataclass(frozen=True, eq=False)
class Signature:
    """What goes in and out of a compiled function.

    Attributes
    ----------
    args : tuple of ArgSpec
        One per input, in order.
    shared : tuple of SharedVariable
        The shared variables the function reads; their storages follow the arguments.
    updates : tuple of SharedVariable
        The shared variables the updates write, in the order of their new values.
    update_index : tuple of int
        The position in `shared` of each of `updates`.
    n_outputs : int
        The outputs the caller gets (the updates' new values follow them).
    out_dtypes : tuple of numpy dtype
        The dtypes of the outputs, then of the updates' new values.
    out_ndims : tuple of int
        Their ranks.
    return_list : bool
        Whether a call returns a list (`function` got a list of outputs); else the one
        output, or None without outputs.
    pack : callable
        `pack(outs)`: a call's result from the list of arrays it computed (outputs
        first): the list of the outputs (`return_list`), else the one output, else None.
    """

    args: tuple[ArgSpec, ...]
    shared: tuple[SharedVariable, ...]
    updates: tuple[SharedVariable, ...]
    n_outputs: int
    out_dtypes: tuple[np.dtype, ...]
    out_ndims: tuple[int, ...]
    return_list: bool
    update_index: tuple[int, ...] = field(init=False)
    pack: Callable[[list[np.ndarray]], Any] = field(init=False, repr=False)
    _checks: tuple = field(init=False, repr=False)
    _none_in_place: tuple[bool, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index = tuple(self.shared.index(target) for target in self.updates)
        object.__setattr__(self, "update_index", index)
        object.__setattr__(self, "_checks", tuple(
            (a, a.dtype, a.ndim, a.stated_lengths, a.stated) for a in self.args))
        object.__setattr__(self, "_none_in_place", (False,) * len(self.updates))
        # A C-level callable where one does: packing is on every call's path.
        if self.return_list:
            pack = itemgetter(slice(0, self.n_outputs))
        elif self.n_outputs == 1:
            pack = itemgetter(0)
        else:
            pack = _no_result
        object.__setattr__(self, "pack", pack)

    @classmethod
    def of_graph(cls, fgraph: FunctionGraph, n_inputs: int, shared: Sequence[SharedVariable],
                 n_outputs: int, updates: Sequence[SharedVariable], return_list: bool,
                 allow_downcast: bool | None) -> Signature:
        """The signature of `fgraph`, whose inputs are the function's `n_inputs` inputs
        then the storages of `shared`, and whose outputs are the function's `n_outputs`
        outputs then the new values of `updates`."""
        args = tuple(ArgSpec.for_input(v, i, allow_downcast)
                     for i, v in enumerate(fgraph.inputs[:n_inputs]))
        return cls(args, tuple(shared), tuple(updates), n_outputs,
                   tuple(np.dtype(v.type.dtype) for v in fgraph.outputs),
                   tuple(v.type.ndim for v in fgraph.outputs), return_list)

    def check(self, args: Sequence[Any]) -> list[np.ndarray]:
        """The arguments, each as its input's `ArgSpec` wants it (converted if need be)."""
        arrays = []
        for (spec, dtype, ndim, lengths, stated), a in zip(self._checks, args):
            if (a.__class__ is not _ndarray or a.dtype is not dtype or a.ndim != ndim
                    or not (flags := a.flags).c_contiguous or not flags.aligned
                    or (lengths is not None and lengths(a.shape) != stated)):
                a = spec.convert(a)
            arrays.append(a)
        return arrays

    def check_exact(self, args: Sequence[Any]) -> list[np.ndarray]:
        """The arguments unconverted (`trust_input`): each must be an ndarray of its
        input's dtype and rank, C-contiguous and aligned, else TypeError names it."""
        for (spec, dtype, ndim, _, _), a in zip(self._checks, args):
            if isinstance(a, np.ndarray) and a.ndim == ndim and spec.off_shape(a.shape):
                spec.convert(a)  # raises ValueError naming the input and the lengths
            if (a.__class__ is not _ndarray or a.dtype != dtype or a.ndim != ndim
                    or not (flags := a.flags).c_contiguous or not flags.aligned):
                got = (f"a {a.ndim}-d {a.dtype} array" + ("" if a.flags.c_contiguous
                                                         else " (not C-contiguous)")
                       if isinstance(a, np.ndarray) else repr(type(a).__name__))
                raise TypeError(f"bad argument for {spec.label}: with trust_input=True it "
                                f"must be a C-contiguous {ndim}-d ndarray of {dtype}, got "
                                f"{got}; convert it (np.ascontiguousarray(value, "
                                f"{str(dtype)!r})) or drop trust_input")
        return list(args)

    def storages(self) -> list[np.ndarray]:
        """The current storage of each shared variable, in the order of `shared`."""
        return [s._value for s in self.shared]

    def set_storages(self, values: Sequence[np.ndarray]) -> None:
        """Make `values` the storages of the shared variables (in the order of `shared`)."""
        for s, value in zip(self.shared, values):
            s._value = value

    def write_back(self, values: Sequence[np.ndarray],
                   in_place: Sequence[bool] | None = None) -> None:
        """Give each updated shared variable its new value, `values[k]` for `updates[k]`;
        those with `in_place[k]` true were written into their storage by the kernels
        and are left alone."""
        for target, value, done in zip(self.updates, values, in_place or self._none_in_place):
            if not done:
                target._value = value


def _no_result(outs: list[np.ndarray]) -> None:
    """The result of a function without outputs (that returns no list)."""
    return None
