"""Indexing: `x[...]` (basic, integer arrays, boolean masks, 0-d booleans), set_subtensor,
inc_subtensor, take, nonzero.

The user's index is parsed once, when the graph is built, into an `Index`
(`cgraph.tensor.subtensor_index`) and the ops of `cgraph.tensor.subtensor_ops`: basic
indexing is a view, integer arrays a gather, masks their `Nonzero` coordinates, a 0-d
boolean a new axis indexed by a length-1 mask; set/inc_subtensor follow a chain of
views back to the tensor they view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.tensor.basic_ops import flatten
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import pad_left
from cgraph.tensor.subtensor_index import ARRAY, FULL, INT, NEW, SLICE, SYM, Index
from cgraph.tensor.subtensor_ops import (  # noqa: F401  (the ops, importable from here too)
    AdvancedSubtensor,
    IncSubtensor,
    IndexOp,
    Nonzero,
    Subtensor,
    take_index,
)
from cgraph.tensor.type import TensorVariable, as_tensor_variable

# --------------------------------------------------------------------------- parsing

#: the kind of a 0-d boolean in the user's index (payload: a bool, or a bool scalar)
BOOL = "bool"


def _static_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"a boolean ({v!r}) is not a valid integer index")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Constant) and np.ndim(v.data) == 0 and np.asarray(v.data).dtype.kind in "iu":
        return int(v.data)
    return None


def _classify(item: Any) -> tuple[str, Any]:
    """One element of the user's index: (kind, payload)."""
    if item is None:
        return NEW, None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        return SLICE, tuple(_bound(p) for p in (item.start, item.stop, item.step))
    if isinstance(item, (bool, np.bool_)):
        return BOOL, bool(item)
    static = _static_int(item)
    if static is not None:
        return INT, static
    if not isinstance(item, Variable):
        arr = np.asarray(item)
        if arr.size == 0 and arr.dtype.kind == "f":  # x[[]]: an empty integer array
            arr = arr.astype("int64")
        item = as_tensor_variable(arr)
    v = as_tensor_variable(item)
    static = _static_int(v)
    if static is not None:  # a 0-d integer constant
        return INT, static
    if v.dtype == "bool":
        if v.ndim == 0:
            return BOOL, bool(v.data) if isinstance(v, Constant) else v
        return "mask", v
    if v.dtype.startswith("float"):
        raise TypeError(f"index {v!r} of type {v.type}: indices must be integers, slices, "
                        "None, Ellipsis, or integer or boolean arrays")
    return (INT, v) if v.ndim == 0 else (ARRAY, v)


def _bound(p: Any) -> Any:
    if p is None:
        return None
    static = _static_int(p)
    if static is not None:
        return static
    v = as_tensor_variable(p)
    if v.ndim != 0 or v.dtype == "bool" or v.dtype.startswith("float"):
        raise TypeError(f"slice bounds must be integers or integer scalars, got {v.type}")
    return v


def parse_index(x: TensorVariable, key: Any
                ) -> tuple[TensorVariable, Index, list[TensorVariable]]:
    """`x[key]` as (base, the canonical `Index` of base[...], its index inputs); masks
    become Nonzero coordinates.

    The base is `x`, or, when the key has 0-d booleans, a view of `x` with a new axis
    where each of them is; the index then takes that axis with a length-1 mask of the
    boolean (numpy's rule), giving a length of 1 or 0.
    """
    parsed = [_classify(item) for item in (key if isinstance(key, tuple) else (key,))]
    if any(kind == BOOL for kind, _ in parsed):
        x, parsed = _bools_as_masks(x, parsed)
    return (x, *_parse(x, parsed))


def _bools_as_masks(x: TensorVariable, parsed: list[tuple[str, Any]]) -> tuple:
    """numpy's rule for 0-d booleans: each adds an axis of length 1, indexed by a
    length-1 mask of it. Alone among basic indices, a static one is a view."""
    bools = [v for kind, v in parsed if kind == BOOL]
    alone = len(bools) == 1 and isinstance(bools[0], bool) and not any(
        kind in (INT, ARRAY, "mask") for kind, _ in parsed)
    if alone and bools[0]:
        return x, [(NEW, None) if kind == BOOL else (kind, v) for kind, v in parsed]
    widen, rest = [], []
    for kind, v in parsed:
        if kind == BOOL:
            widen.append((NEW, None))
            if alone:  # False: an empty slice of the new axis
                rest.append((SLICE, (0, 0, None)))
            else:
                mask = np.array([v]) if isinstance(v, bool) else pad_left(v, 1)
                rest.append(("mask", as_tensor_variable(mask)))
            continue
        if kind != NEW:
            width = v.ndim if kind == "mask" else 1
            widen += [(kind, v)] if kind == "ellipsis" else [(SLICE, (None,) * 3)] * width
        rest.append((kind, v))
    index, inputs = _parse(x, widen)
    return take_index(index, x, inputs), rest


def _parse(x: TensorVariable, parsed: list[tuple[str, Any]]
           ) -> tuple[Index, list[TensorVariable]]:
    """The `Index` and index inputs of `x[...]` for the classified items of a key."""
    if sum(kind == "ellipsis" for kind, _ in parsed) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(v.ndim if kind == "mask" else kind in (INT, SLICE, ARRAY) for kind, v in parsed)
    if used > x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, but "
                         f"{used} were indexed")
    advanced = any(kind in (ARRAY, "mask") for kind, _ in parsed)
    entries: list[tuple] = []
    inputs: list[TensorVariable] = []
    positions: list[int] = []
    for pos, (kind, v) in enumerate(parsed):
        if kind == "ellipsis":
            entries += [FULL] * (x.ndim - used)
        elif kind == NEW:
            entries.append((NEW,))
        elif kind == SLICE:
            entries.append((SLICE, *(p if not isinstance(p, Variable) else SYM for p in v)))
            inputs += [p for p in v if isinstance(p, Variable)]
        elif kind == "mask":
            axis = sum(e[0] != NEW for e in entries)
            coords = Nonzero(axis)(v, x)
            coords = coords if isinstance(coords, list) else [coords]
            entries += [(ARRAY,)] * len(coords)
            inputs += coords
        elif kind == ARRAY:
            entries.append((ARRAY,))
            inputs.append(v)
        else:
            entries.append((INT, SYM) if isinstance(v, Variable) else (INT, v))
            inputs += [v] if isinstance(v, Variable) else []
        if kind in (ARRAY, "mask") or (kind == INT and advanced):
            positions.append(pos)
    entries += [FULL] * (x.ndim - sum(e[0] != NEW for e in entries))
    adjacent = positions == list(range(positions[0], positions[0] + len(positions))) \
        if positions else True
    return Index(tuple(entries), adjacent), inputs


def getitem(x: TensorVariable, key: Any) -> TensorVariable:
    """`x[key]` with numpy semantics: ints (negative wrap), slices (any step, bounds
    clipped), None, Ellipsis, integer scalars (symbolic too), integer arrays and
    boolean masks, 0-d booleans (static or symbolic: a new axis of length 1 or 0).

    Basic indexing gives a view (no copy); an int out of range raises IndexError when
    the function is called (at build time when static).
    """
    base, index, inputs = parse_index(as_tensor_variable(x), key)
    return take_index(index, base, inputs)


def _indexed(x: Any, what: str) -> Apply:
    node = getattr(x, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{what}: the first argument must be an indexed tensor such as "
                        f"x[1:3] or x[idx], got {x!r}")
    return node


def inc_subtensor(x: Any, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> TensorVariable:
    """The whole tensor indexed by `x` (an `a[...]` expression) with `y` added at the
    indexed places (theano.tensor.inc_subtensor).

    `y` broadcasts to `x`'s shape (leading length-1 axes beyond it are dropped, as
    numpy does) and is cast to its dtype (same kind); repeated indices accumulate, like
    np.add.at. When `a` is itself a view through basic indexing (`b[1:][0]`,
    `b[::2][v]`), the result is the whole `b`: the chain of views is followed back to
    the first tensor that is not one (a gather such as `b[v]` in `b[v][0]` is a copy,
    as in numpy: the result is then that copy, updated). `inplace` and
    `tolerate_inplace_aliasing` are accepted for compatibility: the result is always a
    new array.

    Raises
    ------
    TypeError
        When `x` is not the result of indexing, or `y` cannot be cast safely.
    ValueError
        When `y` does not broadcast to `x` (when the function is called unless static).
    """
    node = _indexed(x, "set_subtensor" if set_instead_of_inc else "inc_subtensor")
    base = node.inputs[0]
    y = as_tensor_variable(y)
    if y.dtype != base.dtype:
        if not np.can_cast(y.dtype, base.dtype, casting="same_kind"):
            raise TypeError(f"inc_subtensor: cannot cast y ({y.type}) to the dtype of x "
                            f"({base.type})")
        y = cast(y, base.dtype)
    out = IncSubtensor(node.op.index, set_instead_of_inc)(base, y, *node.inputs[1:])
    while base.owner is not None and isinstance(base.owner.op, Subtensor):
        view = base.owner  # out is the view updated: write it back where it came from
        base = view.inputs[0]
        out = IncSubtensor(view.op.index, True)(base, out, *view.inputs[1:])
    return out


def set_subtensor(x: Any, y: Any, inplace: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> TensorVariable:
    """The whole tensor indexed by `x` (an `a[...]` expression) with `y` written at the
    indexed places (theano.tensor.set_subtensor); with repeated indices the last
    write wins. See `inc_subtensor`."""
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True,
                         tolerate_inplace_aliasing=tolerate_inplace_aliasing)


def take(a: Any, indices: Any, axis: int | None = None) -> TensorVariable:
    """numpy.take: `a[indices]` along `axis` (None: of the flattened `a`)."""
    a = as_tensor_variable(a)
    if axis is None:
        return getitem(flatten(a), indices)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} out of range for {a.type}")
    return getitem(a, (slice(None),) * (axis % a.ndim) + (indices,))


def nonzero(a: Any) -> tuple[TensorVariable, ...]:
    """numpy.nonzero: a tuple of int64 vectors, the coordinates of the nonzero elements
    (their count is computed when the function is called)."""
    a = as_tensor_variable(a)
    coords = Nonzero(0)(a, a)
    return tuple(coords) if isinstance(coords, list) else (coords,)
