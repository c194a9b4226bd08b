"""Shared variables: tensors with a value that compiled functions read and update."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.type import TensorType, TensorVariable


class SharedVariable(TensorVariable):
    """A tensor variable holding a value shared between calls and functions.

    Compiled functions read the current value at each call and may replace it
    through `updates`. As in Theano, `get_value()` and `set_value()` copy unless
    `borrow=True`.
    """

    #: An expression `function` uses as this variable's update when none is given
    #: (Theano's default_update; `no_default_updates` turns it off).
    default_update = None

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None):
        super().__init__(type, name=name)
        self._value = value

    def get_value(self, borrow: bool = False) -> np.ndarray:
        """The current value; a copy unless `borrow`: then the storage itself, which
        updates may overwrite in place."""
        return self._value if borrow else self._value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value (converted to this variable's dtype and rank).

        With `borrow`, an ndarray that can serve as storage (C-contiguous, aligned,
        writeable, native byte order) becomes the storage itself, and updates may write
        into it; any other value is copied, so read-only memory is never written.
        """
        try:
            arr = self.type.filter(value)
        except (TypeError, ValueError) as err:
            raise type(err)(f"set_value of {self!r}: {err}") from None
        fresh = arr is not value and arr.flags.owndata  # made by the conversion
        self._value = _storage(arr, borrow or fresh)

    def clone(self) -> TensorVariable:
        # Inside a FunctionGraph a shared variable is a plain input.
        return TensorVariable(self.type, name=self.name)

    def __repr__(self) -> str:
        return self.name if self.name is not None else f"<shared {self.type}>"


def shared(value: Any, name: str | None = None, borrow: bool = False,
           shape: tuple[int | None, ...] | None = None,
           broadcastable: tuple[bool, ...] | None = None) -> SharedVariable:
    """Return a shared variable initialised with `value`.

    Parameters
    ----------
    value : array_like
        The initial value; its dtype (in native byte order) and rank fix the
        variable's type.
    name : str, optional
        Used in printing and in the generated C's comments.
    borrow : bool
        Use `value` itself instead of a copy when it is an ndarray that can serve as
        storage (C-contiguous, aligned, writeable, native byte order): updates may then
        write into it. Other values are copied (a read-only array, for one).
    shape : tuple, optional
        Static shape; by default every axis is unknown, so the value may later be
        replaced by one of another shape. An axis of static length 1 broadcasts.
    broadcastable : tuple of bool, optional
        Theano's form: True for an axis of length 1 that broadcasts (static length 1).
    """
    arr = np.asarray(value)
    if broadcastable is not None:
        if shape is not None:
            raise TypeError("shared: give `shape` or `broadcastable`, not both")
        if len(broadcastable) != arr.ndim:
            raise ValueError(f"shared: broadcastable={tuple(broadcastable)} has "
                             f"{len(broadcastable)} entries for a value of {arr.ndim} "
                             "dimensions")
        shape = tuple(1 if b else None for b in broadcastable)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"shared: unsupported dtype {arr.dtype}")
    arr = _storage(arr, borrow and arr is value)
    ttype = TensorType(arr.dtype, shape if shape is not None else (None,) * arr.ndim)
    return SharedVariable(ttype, ttype.filter(arr), name=name)


def _storage(arr: np.ndarray, keep: bool) -> np.ndarray:
    """`arr` when `keep` and compiled functions may write it in place (C-contiguous,
    aligned, writeable, native byte order); else such a copy, of equal value."""
    flags = arr.flags
    if keep and flags.c_contiguous and flags.aligned and flags.writeable and arr.dtype.isnative:
        return arr
    return np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
