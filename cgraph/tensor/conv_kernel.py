"""The geometry of a 2-D or 3-D convolution and the C kernel of the conv family.

`Geometry` is the one shape rule of the convolution ops (cgraph/tensor/conv_ops.py):
the padding a border mode gives, the output size, and the checks of channels and
groups. `ConvKernel` lowers the ops of both ranks to `templates/conv2d.c.j2` (a 2-D
convolution is a 3-D one of depth 1): the image is unrolled into a column buffer
(im2col, a tile of output rows at a time) and the sums are one BLAS gemm per image,
group and tile (`scipy_cblas_*gemm` with the threads
chosen by timing, as in templates/gemm.c.j2); the gradient with respect to the input
is a gemm into the column buffer followed by col2im. The column buffer is the
kernel's scratch (`ConvKernel.scratch`), placed by the planner in the workspace. A 1x1
convolution of stride 1 without padding, over an image whose channels are each dense
in memory, skips im2col: the image is its own column buffer, one gemm per image and
group (and the input's gradient is that gemm's output, without col2im): the 1x1
convolutions the direct kernels do not take.

A forward convolution of stride 1, and the gradient wrt the input of one (a
convolution of the output gradient), run the direct kernel instead
(`takes_direct`, `direct_geometry`; templates/conv_direct.c.j2): register tiles of
filters x consecutive points of each zero-padded image group, summed with vector fused
multiply-adds, its items (image, group, block of filters) shared by threads. On one
thread, its forward convolution matched or beat im2col and the gemm on every float32
layer measured (0.4-1.0x the time) and on most float64 ones (single-channel inputs
with 16-20 filters: up to 1.23x); the gemm's threads split each image's product, the
direct kernel's split the batch. The gradient wrt the filters of stride 1 has a direct
kernel of its own (cgraph/tensor/conv_gradw.py, templates/conv_gradw.c.j2) where
its blocks waste little (`takes_gradw`).

Tried and not kept: for small K (at most 64 column rows), several images' columns
side by side in one gemm and the product copied to each image. LeNet conv1 forward
(64x1x28x28, 20x1x5x5, float32), both plans of one module timed in turn in one
process: 3.62 ms one gemm per image, 3.89 ms ten images per gemm, 4.02 ms 40, 3.68
ms two; the sums also change in the last bit. The time is not in the gemm calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, is_dense
from cgraph.tensor.blas_ops import BLAS_PREFIX, DOT_PATHS, PRODUCT, TILES_DTYPES
from cgraph.tensor.conv_gradw import gradw_bytes, gradw_units, padded_points, takes_gradw

__all__ = ["BORDER_MODES", "COL_LIMIT", "ConvKernel", "Geometry", "border_pads",
           "check_channels", "conv_out_length", "direct_bytes", "direct_geometry",
           "direct_threads", "takes_direct"]

#: the named border modes; an int p or a pair (p0, p1) pads by p on both sides
BORDER_MODES = ("valid", "full", "half")
#: the column buffer holds at most about this many elements (a tile of output rows:
#: never fewer than one row)
COL_LIMIT = 1 << 18
#: products of fewer multiply-adds than this run the template's loop instead of BLAS
CONV_BLAS_MIN_WORK = 4096
#: the direct kernel's register tile, at most (templates/conv_direct.c.j2): filters
#: and consecutive points
DIRECT_FILTERS, DIRECT_SPAN = 8, 48
#: the gradient wrt the input (and a 1x1 convolution) runs the direct kernel when it
#: computes at most this many sums per sum kept (`_waste`): LeNet's (12x12 from 8x8, padded by 4; 20
#: channels from 50) measured 1.5x im2col's time, the conv layers of batch 32 (16-64
#: channels, 32x32 and 56x56, 1.08-1.13 sums per sum) 0.38-0.79x, one thread each
DIRECT_GRADI_WASTE = 1.25
#: the direct kernel's buffers of a thread (an image group's channels and a block's
#: sums, each of the padded points) hold at most this many elements
DIRECT_MAX_IMAGE = 1 << 21
#: the threads a direct convolution may run on (each has buffers in the scratch)
CONV_THREADS = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1, 16)
#: a direct convolution of at least this many multiply-adds runs on `CONV_THREADS`
#: threads (at most BLAS's count), a smaller one on one: starting a thread costs tens
#: of microseconds. Two threads over one, 3x3 16->16 float32 layers, 2 cores with
#: another process on and off: 0.96x the time at 4.7e6 multiply-adds, 0.75x at 1.1e7,
#: 0.55-0.64x from 2e7 when the second core was free; 1.2x, 1.1x, 1.0-1.1x when it
#: was not. Not chosen by timing a few calls (one slow sample kept layers on one
#: thread for good): the threads share the batch through a counter, so a delayed
#: thread takes fewer items, and the kernel falls back to one thread for a while only
#: when the machine is oversubscribed (csrc/cg_pool.h and cg_busy.h, the pool it shares)
DIRECT_MIN_THREADED = 1 << 23
_INT32_MAX = 2**31 - 1


def border_pads(border_mode: Any, kernel: tuple[int, ...], dilation: tuple[int, ...]
                ) -> tuple[int, ...]:
    """The zero padding on each side of each spatial axis that `border_mode` gives for
    filters of `kernel` taps along them: valid 0, full the dilated filter's size minus
    1, half its half (rounded down), an int or a tuple as given."""
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if border_mode == "valid":
        return (0,) * len(kernel)
    if border_mode == "full":
        return tuple(k - 1 for k in dilated)
    if border_mode == "half":
        return tuple(k // 2 for k in dilated)
    return tuple(border_mode)


def conv_out_length(size: int, kernel: int, stride: int, dilation: int, pad: int) -> int:
    """Output positions along one axis: (size + 2 pad - dilated kernel) // stride + 1;
    -1 when the dilated filter is larger than the padded input."""
    span = size + 2 * pad - ((kernel - 1) * dilation + 1)
    return -1 if span < 0 else span // stride + 1


@dataclass(frozen=True)
class Geometry:
    """One call's convolution with `nd` spatial axes (2: rows, cols; 3: depth, rows,
    cols): the input (N, C, *spatial), the filters (F, C / groups, *taps), the output
    (N, F, *out) and the padding of each spatial axis."""

    img: tuple[int, ...]
    kern: tuple[int, ...]
    top: tuple[int, ...]
    pad: tuple[int, ...]

    @classmethod
    def of(cls, op: Any, img: tuple, kern: tuple) -> Geometry:
        """The geometry of `op` (a convolution op) on these image and filter shapes.

        Raises ValueError saying what does not fit: the channels (input channels must
        be the filters' channels times the groups, filters a multiple of the groups),
        or filters larger than the padded input.
        """
        img, kern = tuple(_int(v) for v in img), tuple(_int(v) for v in kern)
        check_channels(op, img, kern)
        name = type(op).__name__
        pad = border_pads(op.border_mode, kern[2:], op.filter_dilation)
        out = [conv_out_length(size, k, s, d, p) for size, k, s, d, p in zip(
            img[2:], kern[2:], op.subsample, op.filter_dilation, pad)]
        if min(out) < 0:
            raise ValueError(
                f"{name}: the filters {kern} (dilation {op.filter_dilation}) are "
                f"larger than the input {img} padded by {pad} "
                f"(border_mode={op.border_mode!r})")
        return cls(img, kern, (img[0], kern[0], *out), pad)


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def check_channels(op: Any, img: tuple, kern: tuple) -> None:
    """Raise ValueError unless the input's channels are the filters' channels times the
    groups and the filters split into the groups (shape entries may be None)."""
    c, f, cg = img[1], kern[0], kern[1]
    groups, name = op.num_groups, type(op).__name__
    if c is not None and cg is not None and cg * groups != c:
        raise ValueError(
            f"{name}: the filters {tuple(kern)} have {cg} input channels per group x "
            f"{groups} group(s) = {cg * groups}, but the input {tuple(img)} has {c} "
            "channels")
    if f is not None and f % groups:
        raise ValueError(f"{name}: {f} filters {tuple(kern)} do not split into "
                         f"{groups} groups")


def _conv_context(kind: str, dtype: str) -> dict[str, Any]:
    # gemm.c.j2 (included for the BLAS thread choice) reads product, paths, bool
    return {"kind": kind, "blas": BLAS_PREFIX.get(dtype, ""), "sfx": dtype, "bool": False,
            "product": PRODUCT, "paths": tuple(DOT_PATHS.items()),
            "tiles": dtype in TILES_DTYPES, "itemsize": np.dtype(dtype).itemsize}


#: the plan slots of every convolution kernel: three spatial axes (depth, rows, cols);
#: a 2-D convolution has a depth of 1
CONV_LAYOUT = ParamLayout("conv2d", img=5, kern=5, top=5, stride=3, dilation=3, pad=3,
                          groups=1, flip=1, st_img=5, st_kern=5, st_top=5, pack=2,
                          tile=1, blas=1, direct=1, threads=1, room=1, units=1, scratch=1)


class ConvKernel(KernelBuilder):
    """The convolution ops, 2-D and 3-D (forward, gradient wrt the filters, wrt the
    input): im2col into a column buffer of at most `COL_LIMIT` elements and a gemm per
    image, group and tile of output rows (a row: one (depth, row) position). Operands
    the gemm cannot read (non-contiguous filters or output gradients) are packed
    first. A 2-D convolution runs as a 3-D one of depth 1."""

    family = "conv2d"

    def lower(self, node: Any, name: str, comment: str, outs: list, ins: list) -> Kernel:
        context = _conv_context(node.op.kind, node.outputs[0].type.dtype)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), CONV_LAYOUT,
                      context=context)

    def scratch(self, node: Any, in_shapes: list, out_shapes: list) -> int:
        """The column buffer (`depth` rows of a tile of output rows), or the direct
        kernel's buffers (`direct_bytes`) when it runs and they are larger: a module
        compiled for a CPU without the direct kernel's vectors runs im2col whatever
        the plan says."""
        shapes = dict(zip(node.op.roles, [*in_shapes[:2], out_shapes[0]]))
        geo = Geometry.of(node.op, shapes["img"], shapes["kern"])
        dtype = node.outputs[0].type.dtype
        depth, tile = _tile(geo)
        itemsize = np.dtype(dtype).itemsize
        column = depth * tile * geo.top[-1] * itemsize
        if node.op.kind == "gradw" and takes_gradw(node.op, geo, dtype):
            return max(column, gradw_bytes(geo, node.op.num_groups, itemsize,
                                           direct_threads(geo)))
        if not takes_direct(node.op, geo, dtype):
            return column
        run = direct_geometry(node.op, geo)
        return max(column, direct_bytes(run, node.op.num_groups, np.dtype(dtype).itemsize,
                                        direct_threads(run)))

    def params(self, kernel: Kernel, node: Any, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        op = node.op
        lay = dict(zip(op.roles, [*in_layouts[:2], out_layouts[0]]))
        geo = Geometry.of(op, lay["img"][0], lay["kern"][0])
        depth, tile = _tile(geo)
        points = int(np.prod(geo.top[2:]))
        sizes = (geo.kern[0] // op.num_groups, depth, points) + geo.img + geo.kern
        blas = (bool(kernel.context["blas"]) and max(sizes) <= _INT32_MAX
                and sizes[0] * sizes[1] * tile * geo.top[-1] >= CONV_BLAS_MIN_WORK)
        pack = [int(role in ("kern", "top") and role in op.roles[:2]
                    and not is_dense(*lay[role])) for role in ("kern", "top")]
        dtype = node.outputs[0].type.dtype
        itemsize = np.dtype(dtype).itemsize
        units = 0
        if op.kind == "gradw":
            direct = takes_gradw(op, geo, dtype)
            threads = direct_threads(geo) if direct else 1
            units = gradw_units(geo, op.num_groups, itemsize) if direct else 0
            room = gradw_bytes(geo, op.num_groups, itemsize, threads) if direct else 0
        else:
            direct = takes_direct(op, geo, dtype)
            run = direct_geometry(op, geo)
            threads = direct_threads(run) if direct else 1
            room = direct_bytes(run, op.num_groups, itemsize, threads) if direct else 0
        lift = 3 - (len(geo.img) - 2)  # the missing leading spatial axes (length 1)
        return kernel.layout.build(
            img=_lift(geo.img, lift), kern=_lift(geo.kern, lift), top=_lift(geo.top, lift),
            stride=(1,) * lift + op.subsample, dilation=(1,) * lift + op.filter_dilation,
            pad=(0,) * lift + geo.pad, groups=op.num_groups, flip=int(op.filter_flip),
            st_img=_lift(lay["img"][1], lift, 0), st_kern=_lift(lay["kern"][1], lift, 0),
            st_top=_lift(lay["top"][1], lift, 0), pack=pack, tile=tile, blas=int(blas),
            direct=int(direct), threads=threads, room=room, units=units, scratch=0)


def _lift(values: tuple, lift: int, fill: int = 1) -> tuple:
    """A (batch, channels, *spatial) shape (or strides) with `lift` leading spatial
    axes of `fill` inserted."""
    return tuple(values[:2]) + (fill,) * lift + tuple(values[2:])


def _tile(geo: Geometry) -> tuple[int, int]:
    """The column buffer's rows (channels per group x taps) and the output rows of a
    tile (rows of all depths, one after the other): as many as fit in `COL_LIMIT`
    elements, at least one."""
    depth = int(np.prod(geo.kern[1:]))
    rows, cols = int(np.prod(geo.top[2:-1])), geo.top[-1]
    return depth, max(1, min(rows, COL_LIMIT // max(depth * cols, 1)))


def direct_geometry(op: Any, geo: Geometry) -> Geometry | None:
    """The forward convolution the direct kernel runs for `op` of `geo`: the forward
    convolution itself; for the gradient wrt the input (stride 1), the convolution of
    the output gradient with the filters' channels swapped and their taps flipped,
    padded by the dilated filter's size - 1 - the padding (None when that is
    negative); None for the gradient wrt the filters."""
    if op.kind == "fwd":
        return geo
    if op.kind != "gradi":
        return None
    taps = geo.kern[2:]
    pad = tuple((k - 1) * d - p for k, d, p in zip(taps, op.filter_dilation, geo.pad))
    if min(pad) < 0:
        return None
    kern = (geo.img[1], geo.kern[0] // op.num_groups, *taps)
    return Geometry(geo.top, kern, geo.img, pad)


def takes_direct(op: Any, geo: Geometry, dtype: str) -> bool:
    """Whether the convolution `op` of `geo` runs the direct kernel
    (templates/conv_direct.c.j2) rather than im2col and a gemm: the forward
    convolution or the gradient wrt the input (`direct_geometry`), of float32 or
    float64, strides of 1, and a padded image group small enough to copy whole
    (`DIRECT_MAX_IMAGE`). A 1x1 convolution too when its blocks of filters waste
    little (`DIRECT_GRADI_WASTE`): on one thread it ran as fast as the gemm on the
    image in place (float32 64->64 56x56, 256->256 14x14: 69-72 and 92 GFLOP/s both,
    its copies in and out cost it the margin it has on larger filters; float64 30
    both), and its threads share the batch under the direct kernel's rule where the
    gemm's split each image's product by timing (csrc/cg_blas_threads.h)."""
    if dtype not in ("float32", "float64") or set(op.subsample) != {1}:
        return False
    run = direct_geometry(op, geo)
    if run is None or min(run.top) <= 0 or run.kern[1] <= 0:
        return False
    taps = int(np.prod(run.kern[2:]))
    plane = int(np.prod([s + 2 * p for s, p in zip(run.img[2:], run.pad)]))
    if (op.kind == "gradi" or taps == 1) and _waste(run, op.num_groups) > DIRECT_GRADI_WASTE:
        return False
    return (run.kern[1] + DIRECT_FILTERS) * plane <= DIRECT_MAX_IMAGE


def direct_threads(run: Geometry) -> int:
    """The threads the direct kernel runs `run` on (`DIRECT_MIN_THREADED`); the kernel
    bounds them by BLAS's thread count and the batch's items."""
    work = run.top[0] * run.kern[0] * int(np.prod(run.top[2:])) * int(np.prod(run.kern[1:]))
    return CONV_THREADS if work >= DIRECT_MIN_THREADED else 1


def _waste(run: Geometry, groups: int) -> float:
    """The sums the direct kernel computes for `run` over those kept: it sums whole
    blocks of `DIRECT_FILTERS` filters over whole tiles of padded points."""
    fg = run.kern[0] // groups
    blocks = -(-fg // DIRECT_FILTERS) * DIRECT_FILTERS
    points = padded_points(run)
    tiles = -(-points // DIRECT_SPAN) * DIRECT_SPAN
    return tiles * blocks / (int(np.prod(run.top[2:])) * fg)


def direct_bytes(geo: Geometry, groups: int, itemsize: int, threads: int) -> int:
    """The scratch bytes of the direct kernel on `threads` threads, at most (its tile
    is at most `DIRECT_FILTERS` filters x `DIRECT_SPAN` points): the repacked
    filters and the taps' offsets, then per thread the padded image group and the
    sums of one block of filters over the padded points."""
    cg, fg = geo.kern[1], geo.kern[0] // groups
    taps = int(np.prod(geo.kern[2:]))
    padded = [s + 2 * p for s, p in zip(geo.img[2:], geo.pad)]
    points = padded_points(geo)
    blocks = -(-fg // DIRECT_FILTERS) * DIRECT_FILTERS
    shared = groups * blocks * cg * taps * itemsize + taps * 8 + 2 * 64
    thread = (cg * int(np.prod(padded)) + DIRECT_SPAN) * itemsize
    thread += DIRECT_FILTERS * (points + DIRECT_SPAN) * itemsize + 2 * 64
    return shared + threads * thread
