"""The plan of a reduction's loops (`templates/careduce.c.j2`): which mode runs a call's
input layout, and the kept and reduced axes merged into runs (`reduce_values`), for
CAReduce and ArgReduce (`cgraph.tensor.reduce`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.kernel import ParamLayout, is_dense


def careduce_layout(ndim: int, red: int) -> ParamLayout:
    """The plan slots of a reduction of `red` of `ndim` axes (templates/careduce.c.j2)."""
    kept = ndim - red
    return ParamLayout("careduce", mode=1, n_out=1, m=1, kept_shape=kept,
                       kept_strides=kept, red_shape=red, red_strides=red)


def _merged(order: Sequence[int], shape: Sequence[int], strides: Sequence[int]
            ) -> list[tuple[int, int]]:
    """The axes `order` (outer first) as (length, stride), an axis merged into the one
    before it where that one steps across its whole length; length-1 axes left out."""
    merged: list[tuple[int, int]] = []
    for a in order:
        n, st = shape[a], strides[a]
        if n == 1:
            continue
        if merged and merged[-1][1] == st * n:
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    return merged


def reduce_values(ndim: int, axes: tuple[int, ...], in_shape: Sequence[int],
                   in_strides: Sequence[int], reorder: bool = True) -> dict[str, Any]:
    """The `careduce_layout` values: the mode, the output and reduced sizes, the kept
    and reduced axes' lengths and strides.

    The kept axes merge into runs in their order, the reduced ones, with `reorder`,
    sorted by stride (the order of a sum's terms is free; not an argmax's); the
    slots' outer axes left over hold length 1. On a C-contiguous input: mode 1 when
    the reduced run trails the kept one, 2 when it leads, and with more runs 3 when a
    reduced run is innermost (rows of consecutive elements, as a channel's sum over
    (N, C, H, W) reads H*W), 4 when a kept run is (whole rows into the output, as a
    max over C reads H*W). On another layout (a transposed or sliced view): mode 3
    when a reduced run has stride 1, else 4 (the innermost kept run's rows read with
    its stride). Mode 0 (strided, one offset computed per element) is left for the
    rest."""
    kept = [a for a in range(ndim) if a not in axes]
    n_out = int(np.prod([in_shape[a] for a in kept], dtype="int64"))
    m = int(np.prod([in_shape[a] for a in axes], dtype="int64"))
    found = {"mode": 0, "n_out": n_out, "m": m,
             "kept_shape": [in_shape[a] for a in kept],
             "kept_strides": [in_strides[a] for a in kept],
             "red_shape": [in_shape[a] for a in axes],
             "red_strides": [in_strides[a] for a in axes]}
    if not axes or 0 in in_shape:
        return found
    order = sorted(axes, key=lambda a: -abs(in_strides[a])) if reorder else axes
    kept_runs = _merged(kept, in_shape, in_strides)
    red_runs = _merged(order, in_shape, in_strides)
    inner_reduced = bool(red_runs) and red_runs[-1][1] == 1
    if is_dense(in_shape, in_strides):
        if not kept_runs or not red_runs or (
                len(kept_runs) == len(red_runs) == 1 and inner_reduced):
            found["mode"] = 1
        elif len(kept_runs) == len(red_runs) == 1:
            found["mode"] = 2
        else:
            found["mode"] = 3 if inner_reduced else 4
    elif kept and inner_reduced:
        found["mode"] = 3
    elif kept_runs and red_runs:
        found["mode"] = 4
    for name, mine, count in (("kept", kept_runs, len(kept)), ("red", red_runs, len(axes))):
        mine = [(1, 0)] * (count - len(mine)) + mine
        found[f"{name}_shape"] = [n for n, _ in mine]
        found[f"{name}_strides"] = [st for _, st in mine]
    return found
