"""The plan of the direct gradient of a convolution wrt its filters
(templates/conv_gradw.c.j2), of stride 1: which ones take it, the units the batch is
cut into, the scratch bytes.

im2col and one BLAS gemm per image ran the gradient of the batch-32 16-channel layers
at 17 GFLOP/s (5x5 16->16 32x32: 24 ms of a 34 ms forward and backward, the forward
and the input's gradient 5 ms each): the gemm's M is the 16 filters. The direct
kernel keeps a register tile of one vector of filters (`GRADW_LANES` at most) x
`GRADW_CHANNELS` channels x `GRADW_TAPS` taps, summed over an image's output points
with the input broadcast, image by image. Its threads take units of consecutive
images (`gradw_units`, fixed by the shapes alone) and the units' sums are added in
their order, so any thread count gives the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GRADW_CHANNELS", "GRADW_LANES", "GRADW_TAPS", "gradw_bytes", "gradw_units",
           "gradw_waste", "padded_points", "takes_gradw"]

#: the kernel's register tile, at most: a vector of filters (float32 on AVX-512),
#: channels, taps
GRADW_LANES, GRADW_CHANNELS, GRADW_TAPS = 16, 8, 3
#: the batch is cut into at most this many units (their sums added in order), and
#: their sums take at most this many bytes: fewer units when the filters' gradient is
#: larger
GRADW_UNITS, GRADW_PART_BYTES = 8, 1 << 23
#: the direct kernel runs when it computes at most this many sums per sum kept
#: (`gradw_waste`): whole vectors of filters, blocks of channels and of taps
GRADW_WASTE = 1.6
#: the padded image group and the output gradient of a thread hold at most this many
#: elements (else im2col)
GRADW_MAX_IMAGE = 1 << 21


def padded_points(geo: Any) -> int:
    """The point of the padded grid after the last output point (a direct kernel of
    stride 1 sums points [0, this) of each padded channel)."""
    padded = [s + 2 * p for s, p in zip(geo.img[2:], geo.pad)]
    points = 0
    for out, size in zip(geo.top[2:], padded):
        points = points * size + out - 1
    return points + 1


def _blocks(n: int, size: int) -> int:
    return -(-n // size) * size


def gradw_waste(geo: Any, groups: int) -> float:
    """The sums the direct kernel computes for the filters' gradient of `geo` over the
    sums kept (float32's vectors, the longest)."""
    fg, cg, taps = geo.kern[0] // groups, geo.kern[1], int(np.prod(geo.kern[2:]))
    done = (_blocks(fg, GRADW_LANES) * _blocks(cg, GRADW_CHANNELS)
            * _blocks(taps, GRADW_TAPS))
    return done / (fg * cg * taps)


def _thread_elements(geo: Any, groups: int) -> int:
    """A thread's buffers, in elements: the padded image group in blocks of channels,
    the output gradient with its filters padded to a whole vector."""
    padded = int(np.prod([s + 2 * p for s, p in zip(geo.img[2:], geo.pad)]))
    points = int(np.prod(geo.top[2:]))
    return (_blocks(geo.kern[1], GRADW_CHANNELS) * padded
            + points * _blocks(geo.kern[0] // groups, GRADW_LANES))


def _part_bytes(geo: Any, groups: int, itemsize: int) -> int:
    """A unit's sums: per group, channel and tap, the group's filters padded to a
    whole vector."""
    pairs = groups * int(np.prod(geo.kern[1:]))
    return _round64(pairs * _blocks(geo.kern[0] // groups, GRADW_LANES) * itemsize)


def takes_gradw(op: Any, geo: Any, dtype: str) -> bool:
    """Whether the gradient wrt the filters `op` of `geo` runs the direct kernel: float32
    or float64, strides of 1, outputs and filters not empty, a thread's buffers of at
    most `GRADW_MAX_IMAGE` elements and at most `GRADW_WASTE` sums per sum kept."""
    if dtype not in ("float32", "float64") or set(op.subsample) != {1}:
        return False
    if min(geo.top) <= 0 or min(geo.kern) <= 0:
        return False
    return (_thread_elements(geo, op.num_groups) <= GRADW_MAX_IMAGE
            and gradw_waste(geo, op.num_groups) <= GRADW_WASTE)


def gradw_units(geo: Any, groups: int, itemsize: int) -> int:
    """The units of consecutive images the batch is cut into: at most `GRADW_UNITS`, one
    per image at most, and fewer when their sums would take more than
    `GRADW_PART_BYTES` (one at least)."""
    part = _part_bytes(geo, groups, itemsize)
    return max(1, min(geo.img[0], GRADW_UNITS, GRADW_PART_BYTES // part))


def gradw_bytes(geo: Any, groups: int, itemsize: int, threads: int) -> int:
    """The scratch bytes of the direct kernel on `threads` threads, at most: the taps'
    offsets and places, the units' sums, each thread's buffers."""
    taps = int(np.prod(geo.kern[2:]))
    shared = _round64(8 * (_blocks(taps, GRADW_TAPS) + taps))
    shared += gradw_units(geo, groups, itemsize) * _part_bytes(geo, groups, itemsize)
    return shared + threads * (_thread_elements(geo, groups) * itemsize + 2 * 64)


def _round64(nbytes: int) -> int:
    return -(-nbytes // 64) * 64
