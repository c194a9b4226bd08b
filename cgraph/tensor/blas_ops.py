"""The product ops and their kernels: `Dot` (numpy.dot of 1-d and 2-d operands),
`MatMul` (stacks of matrices, batch axes broadcast) and `Gemm` (alpha * dot(a, b) +
beta * c, made by the `specialize` rewrite, cgraph/rewrite/specialize.py).

Dot and MatMul lower to `templates/dot.c.j2`, Gemm to `templates/dot_add.c.j2`; both
compute one 2-D product at a time with `templates/gemm.c.j2`, which calls a real BLAS
(gemm, gemv or dot, chosen per call shape) for float32/float64 and a generated loop
for integers and tiny sizes. The user-facing products (`dot`, `matmul`, `tensordot`...)
are in `cgraph.tensor.blas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import (
    Kernel,
    KernelBuilder,
    ParamLayout,
    contiguous_strides,
    loop_strides,
    register_kernel,
)
from cgraph.tensor.elemwise import broadcast_shapes, broadcast_static
from cgraph.tensor.reduce import sum_to
from cgraph.tensor.shape import DimShuffle, pad_left
from cgraph.tensor.type import TensorType, as_tensor_variable

__all__ = ["BLAS_MIN_WORK", "DOT_PATHS", "NARROW_DTYPES", "NARROW_MAX_A", "NARROW_MIN_A",
           "NARROW_MIN_K", "NARROW_MIN_M", "NARROW_N", "NARROW_WIDTH", "PRODUCT", "TILES_DTYPES",
           "TILES_MAX_K", "TILES_MIN_K", "TILES_MIN_M", "TILES_MIN_N", "TILES_MIN_WORK", "Dot",
           "Gemm", "MatMul", "product_params"]


def _col(v: Variable) -> Variable:
    return DimShuffle(1, (0, "x"))(v)


def _row(v: Variable) -> Variable:
    return DimShuffle(1, ("x", 0))(v)


def _t(m: Variable) -> Variable:
    return DimShuffle(2, (1, 0))(m)


def _vec1(s: Variable) -> Variable:
    return DimShuffle(0, ("x",))(s)


def _swap_last(x: Variable) -> Variable:
    """`x` with its last two axes exchanged (a view)."""
    order = list(range(x.ndim))
    order[-2:] = order[-1], order[-2]
    return DimShuffle(x.ndim, order)(x)


# --------------------------------------------------------------------------- Dot


class Dot(Op):
    """numpy.dot of two 1-d or 2-d tensors of one dtype."""


    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise TypeError(f"dot: expected 1-d or 2-d operands, got {a.type} and {b.type}")
        if a.dtype != b.dtype:
            raise TypeError(f"dot: operands differ in dtype: {a.type} and {b.type}")
        ka, kb = a.type.shape[-1], b.type.shape[0]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"dot: shapes {a.type} and {b.type} are not aligned "
                             f"({ka} != {kb})")
        shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(a.dtype, shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        sa, sb = shapes
        if sa[-1] != sb[0]:
            raise ValueError(f"dot: shapes {sa} and {sb} are not aligned "
                             f"({sa[-1]} (dim {len(sa) - 1}) != {sb[0]} (dim 0))")
        return [sa[:-1] + sb[1:]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(np.dot(*inputs))]

    def flops(self, in_shapes: Sequence[tuple[int, ...]],
              out_shapes: Sequence[tuple[int, ...]]) -> int:
        """2 M N K: a multiply and an add per term of each output element's sum."""
        if not in_shapes or not out_shapes:
            return 0
        k = in_shapes[0][-1] if in_shapes[0] else 1
        return 2 * int(np.prod(out_shapes[0], dtype=np.int64)) * int(k)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (a, b), (gz,) = inputs, output_grads
        if a.ndim == 2 and b.ndim == 2:
            ga, gb = self(gz, _t(b)), self(_t(a), gz)
        elif a.ndim == 2:
            ga, gb = self(_col(gz), _row(b)), self(_t(a), gz)
        elif b.ndim == 2:
            ga, gb = self(b, gz), self(_col(a), _row(gz))
        else:
            ga, gb = self(_col(b), _vec1(gz)), self(_col(a), _vec1(gz))
        return [ga, gb]


# --------------------------------------------------------------------------- Gemm


def _check_coefficient(value: Any, dtype: str, what: str) -> None:
    """Raise ValueError unless `value` is a finite number (an integer for an int dtype)."""
    number = np.asarray(value)
    ok = number.shape == () and number.dtype.kind in "biuf" and bool(np.isfinite(number))
    if ok and np.dtype(dtype).kind in "iu":
        ok = float(number) == int(number)
    if not ok:
        raise ValueError(f"gemm: {what} = {value!r} is not a finite {dtype} scalar")


class Gemm(Op):
    """alpha * dot(a, b) + beta * c for 1-d or 2-d `a`, `b` and a `c` of the same dtype
    that broadcasts against the product (a bias row, a column, a scalar, a matrix).

    `alpha` and `beta` are constants of the op, exact in the dtype. The result has the
    numpy broadcast shape of the product and `c` (the product's, except where it has
    length 1 and `c` does not). Built by the `specialize` rewrite from
    `dot(a, b) + c`, `alpha * dot(a, b) + beta * c` and `c - alpha * dot(a, b)`.
    """

    __props__ = ("alpha", "beta")
    flops = Dot.flops  # the product's; adding c is not counted

    def __init__(self, alpha: float = 1.0, beta: float = 1.0):
        self.alpha, self.beta = alpha, beta

    def make_node(self, a: Any, b: Any, c: Any) -> Apply:
        product = Dot().make_node(a, b)
        (a, b), prod = product.inputs, product.outputs[0]
        c = as_tensor_variable(c)
        if c.dtype != prod.dtype or prod.dtype == "bool":
            raise TypeError(f"gemm: expected a numeric c of the operands' dtype, got {c.type} "
                            f"for a product of {a.type} and {b.type}")
        if c.ndim > prod.ndim:
            raise TypeError(f"gemm: c ({c.type}) has more axes than the product {prod.type}")
        for name in ("alpha", "beta"):
            _check_coefficient(getattr(self, name), prod.dtype, name)
        c = pad_left(c, prod.ndim)
        shape = broadcast_static([prod.type.shape, c.type.shape], f"gemm of {prod.type}")
        return Apply(self, [a, b, c], [TensorType(prod.dtype, shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        (prod,) = Dot().infer_shape(node, shapes[:2])
        c = node.inputs[2]
        return [broadcast_shapes([prod, tuple(shapes[2])], "gemm",
                                 [Dot().make_node(*node.inputs[:2]).outputs[0].type.shape,
                                  node.inputs[2].type.shape],
                                 ["the product", f"c ({c.name})" if c.name else "c"])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        a, b, c = inputs
        self.infer_shape(node, [a.shape, b.shape, c.shape])
        dtype = node.outputs[0].type.dtype
        alpha, beta = np.asarray(self.alpha, dtype), np.asarray(self.beta, dtype)
        with np.errstate(all="ignore"):
            out = alpha * np.dot(a, b) + beta * c
        return [np.asarray(out, dtype=dtype)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (a, b, c), (gz,) = inputs, output_grads
        product = Dot()(a, b)  # read for its shape only: where the product broadcast
        g_product = sum_to(gz * np.asarray(self.alpha, gz.dtype), product)
        ga, gb = Dot().grad([a, b], [g_product])
        return [ga, gb, sum_to(gz * np.asarray(self.beta, gz.dtype), c)]


# --------------------------------------------------------------------------- MatMul


def _broadcast_batch(sa: Sequence, sb: Sequence, what: str) -> tuple:
    """numpy's broadcast of two batch shapes of equal length (None: unknown length)."""
    out = []
    for n, m in zip(sa, sb):
        if n == 1 or n == m:
            out.append(m)
        elif m == 1:
            out.append(n)
        elif n is None or m is None:
            out.append(m if n is None else n)
        else:
            raise ValueError(f"{what}: batch shapes {tuple(sa)} and {tuple(sb)} do not "
                             f"broadcast ({n} != {m})")
    return tuple(out)


class MatMul(Op):
    """numpy.matmul of two stacks of matrices of one dtype and equal rank (>= 3).

    Operand shapes are (*batch, M, K) and (*batch, K, N); the batch axes broadcast
    (length-1 axes repeat), giving (*batch, M, N).
    """

    flops = Dot.flops

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim < 3 or a.ndim != b.ndim:
            raise TypeError(f"MatMul: expected two stacks of matrices of equal rank (>= 3), "
                            f"got {a.type} and {b.type}")
        if a.dtype != b.dtype:
            raise TypeError(f"matmul: operands differ in dtype: {a.type} and {b.type}")
        ka, kb = a.type.shape[-1], b.type.shape[-2]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"matmul: shapes {a.type} and {b.type} are not aligned "
                             f"({ka} != {kb})")
        batch = _broadcast_batch(a.type.shape[:-2], b.type.shape[:-2],
                                 f"matmul of {a.type} and {b.type}")
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(a.dtype, shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        sa, sb = (tuple(s) for s in shapes)
        if sa[-1] != sb[-2]:
            raise ValueError(f"matmul: shapes {sa} and {sb} are not aligned "
                             f"({sa[-1]} (dim {len(sa) - 1}) != {sb[-2]} (dim {len(sb) - 2}))")
        batch = _broadcast_batch(sa[:-2], sb[:-2], f"matmul of shapes {sa} and {sb}")
        return [batch + (sa[-2], sb[-1])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(np.matmul(*inputs))]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (a, b), (gz,) = inputs, output_grads
        ga = self(gz, _swap_last(b))
        gb = self(_swap_last(a), gz)
        return [sum_to(ga, a, runtime=True), sum_to(gb, b, runtime=True)]



# --------------------------------------------------------------------------- kernels

#: The cblas prefix of the dtypes whose products call BLAS; others use the loop.
BLAS_PREFIX = {"float32": "s", "float64": "d"}
#: Products of fewer multiply-adds (M * N * K) than these, per path, run the generated
#: loop, which beats the BLAS call there. Measured with `python -m benchmarks.dot
#: --threshold` (float64, microseconds per product in a chain of 32, loop vs BLAS):
#: gemm 5x5x5 0.21 vs 0.24, 6x6x6 0.26 vs 0.25, 8x8x8 0.35 vs 0.27; gemv 12x12 0.17 vs
#: 0.20, 16x16 0.21 vs 0.21; dot n=8 0.132 vs 0.136, n=16 0.139 vs 0.136, n=32 0.153 vs
#: 0.140.
BLAS_MIN_WORK = {"gemm": 192, "gemv_a": 256, "gemv_b": 256, "dot": 16}
#: How one 2-D product is computed (templates/gemm.c.j2 switches on these values).
DOT_PATHS = {"loop": 0, "gemm": 1, "gemv_a": 2, "gemv_b": 3, "dot": 4, "zeros": 5, "empty": 6,
             "narrow": 7, "tiles": 8}
#: The narrow path (templates/gemm.c.j2, `cg_narrow*`): products of N columns in this
#: range (up to NARROW_WIDTH, CG_NR_W there: the panel b is copied into) whose a has
#: at least NARROW_MIN_A elements, NARROW_MIN_K columns and NARROW_MIN_M rows, instead
#: of gemm. Measured with `python -m benchmarks.dot --narrow` and alike (AVX-512 Zen 4,
#: GFLOP/s narrow vs OpenBLAS, one thread and two alike, machine loaded): float64
#: 600x784x10 39-41 vs 15, 784x600x10 TN 31-34 vs 21-25, 128x784x10 40 vs 21-23,
#: 784x128x10 TN 34 vs 21, 1000x128x10 39 vs 20, 400x256x10 40 vs 21, 16x8000x10 24
#: vs 18; float32 600x784x10 57-63 vs 33-45, 784x600x10 TN 53 vs 31, 784x128x10 TN
#: 54-58 vs 47, 400x256x10 62 vs 44, 16x8000x10 36 vs 36. OpenBLAS is as fast or
#: faster with a smaller a (float64 128x256x10 39 vs 51, 384x256x10 40 vs 48, 128x512x10
#: 39 vs 49; float32 57 vs 66, 62 vs 69, 59 vs 68), a shorter K (1000x100x9 34 vs 47,
#: 100000x2x10 2 vs 3) or fewer rows (2x5000x10 7 vs 16). Fewer columns waste more of
#: the padded panel: float64 128x512x8 33 vs 54. Products with K <= 16 (a wide b) ran
#: no faster than BLAS (float64 600x10x784 25 vs 36, 1000x16x1000 13 vs 37) and keep it.
NARROW_WIDTH = 16
NARROW_N = range(9, NARROW_WIDTH + 1)
NARROW_MIN_A = 100_000
NARROW_MIN_K = 128
NARROW_MIN_M = 16
#: ... and only these dtypes, with a of at most NARROW_MAX_A elements: in a quiet run
#: (2026-12-06 04:52, load 0.9, `python -m benchmarks.dot --narrow`, narrow / cgraph's
#: BLAS) float64 won or tied from 128x784 to 6000x784 (600x784x10 1.34x, its TN gradient
#: 1.29x, 784x6000x10 TN 1.13x) but lost at 60000x784 (0.89x, TN 0.71x), and float32
#: lost on most shapes (TN 0.67-0.81x, 128x784x10 0.95x): OpenBLAS's sgemm keeps those.
NARROW_DTYPES = ("float64",)
NARROW_MAX_A = 8_000_000
#: The tiles path (templates/gemm_tiles.c.j2, on AVX-512; else BLAS as planned): float
#: products with b's rows contiguous, K in [TILES_MIN_K, TILES_MAX_K] (b's panel in L2).
#: `python -m benchmarks.dot --tiles` (06:25, tiles / BLAS, 2 threads): float64 1.06-1.45x
#: (MLP 1.16x, TN 1.26x), float32 1.02-1.55x (64x256x64 0.93x); float64 K=16 0.84x.
TILES_DTYPES = ("float32", "float64")
TILES_MIN_WORK = 1 << 20
TILES_MIN_K = 32
TILES_MAX_K = 1024
TILES_MIN_N = 32
TILES_MIN_M = 24
#: How BLAS reads one operand: transposed flag, leading dimension (or increment of a
#: vector), and the elements of the copy the kernel makes first (0: none; a contiguous
#: copy for BLAS, panels for the narrow path).
OPERAND = ParamLayout("operand", trans=1, ld=1, packed=1)
#: The slots of one (M,K) x (K,N) product: sizes, a's strides along (M, K), b's along
#: (K, N), the path (DOT_PATHS), then how BLAS reads a and b. It comes first in the
#: dot and dot_add kernels' layouts: `cg_gemm_*` reads it at the kernel's p.
PRODUCT = ParamLayout("product", M=1, N=1, K=1, sa=2, sb=2, path=1, a=OPERAND, b=OPERAND)
#: BLAS (scipy-openblas32) takes 32-bit sizes.
_BLAS_INT_MAX = 2**31 - 1


def _blas_matrix(rows: int, cols: int, s0: int, s1: int) -> tuple[int, int, int] | None:
    """(transposed, leading dimension, 0) for a strided matrix, if BLAS can read it."""
    if cols <= 1 or s1 == 1:  # row-major, rows s0 apart
        ld = s0 if rows > 1 else max(cols, 1)
        if max(cols, 1) <= ld <= _BLAS_INT_MAX:
            return 0, ld, 0
    if rows <= 1 or s0 == 1:  # column-major: the transpose of a row-major matrix
        ld = s1 if cols > 1 else max(rows, 1)
        if max(rows, 1) <= ld <= _BLAS_INT_MAX:
            return 1, ld, 0
    return None


def _matrix_operand(rows: int, cols: int, s0: int, s1: int) -> tuple[int, int, int]:
    """BLAS layout of a matrix operand: as it is, or packed (a contiguous copy)."""
    return _blas_matrix(rows, cols, s0, s1) or (0, max(cols, 1), rows * cols)


def _vector_operand(n: int, stride: int) -> tuple[int, int, int]:
    """(0, increment, copied elements) of a vector operand: BLAS takes positive
    increments."""
    inc = stride if n > 1 else 1
    return (0, inc, 0) if 1 <= inc <= _BLAS_INT_MAX else (0, 1, n)


def product_params(m: int, n: int, k: int, strides: Sequence[int], blas: bool,
                   dtype: str = "float64") -> list[int]:
    """The PRODUCT slots of one (m,k) x (k,n) product of `dtype`; `strides` are a's
    along (m, k) and b's along (k, n). BLAS is used when `blas` and the product is big
    enough, the narrow path where it is measured faster (`NARROW_N`)."""
    a0, a1, b0, b1 = strides
    unused = (0, 0, 0)
    if m * n == 0 or k == 0:
        path, op_a, op_b = "empty" if m * n == 0 else "zeros", unused, unused
    elif m == 1 and n == 1:
        path, op_a, op_b = "dot", _vector_operand(k, a1), _vector_operand(k, b0)
    elif n == 1:
        path, op_a, op_b = "gemv_a", _matrix_operand(m, k, a0, a1), _vector_operand(k, b0)
    elif m == 1:
        path, op_a, op_b = "gemv_b", _vector_operand(k, a1), _matrix_operand(k, n, b0, b1)
    else:
        path, op_a, op_b = "gemm", _matrix_operand(m, k, a0, a1), _matrix_operand(k, n, b0, b1)
    if path not in ("empty", "zeros") and (
            not blas or m * n * k < BLAS_MIN_WORK[path] or max(m, n, k) > _BLAS_INT_MAX):
        path, op_a, op_b = "loop", unused, unused
    elif (path == "gemm" and dtype in NARROW_DTYPES and n in NARROW_N
          and NARROW_MIN_A <= m * k <= NARROW_MAX_A and k >= NARROW_MIN_K
          and m >= NARROW_MIN_M):
        path, op_a, op_b = "narrow", unused, (0, 0, k * NARROW_WIDTH)
    elif (path == "gemm" and dtype in TILES_DTYPES and b1 == 1 and not op_a[2] and not op_b[2]
          and m * n * k >= TILES_MIN_WORK and TILES_MIN_K <= k <= TILES_MAX_K
          and n >= TILES_MIN_N and m >= TILES_MIN_M):
        path = "tiles"
    return PRODUCT.build(M=m, N=n, K=k, sa=(a0, a1), sb=(b0, b1), path=DOT_PATHS[path],
                         a=op_a, b=op_b)


def _merge_rows(dims: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """(length, stride) of axes (length, stride) merged into one, if evenly strided."""
    kept = [(n, s) for n, s in dims if n != 1]
    if any(n == 0 for n, _ in kept):
        return None
    for (_, outer), (n, inner) in zip(kept, kept[1:]):
        if outer != n * inner:
            return None
    length = int(np.prod([n for n, _ in kept], dtype=np.int64))
    return length, kept[-1][1] if kept else 0


def _product_context(dtype: str) -> dict[str, Any]:
    return {"product": PRODUCT, "blas": BLAS_PREFIX.get(dtype, ""), "sfx": dtype,
            "bool": dtype == "bool", "paths": tuple(DOT_PATHS.items()),
            "tiles": dtype in TILES_DTYPES, "itemsize": np.dtype(dtype).itemsize}


class DotKernel(KernelBuilder):
    """Dot and MatMul: a batch (none for Dot) of (M,K) x (K,N) products, each computed
    by BLAS gemm/gemv/dot (float32, float64) or a generated loop. It never fails:
    without memory for a packed copy of an operand, the loop computes the products
    (as in GemmKernel)."""

    family = "dot"
    cannot_fail = True

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        nb = max(node.inputs[0].type.ndim - 2, 0)
        layout = ParamLayout(self.family, product=PRODUCT, batch=nb, st_out=nb, st_a=nb,
                             st_b=nb)
        context = {"nb": nb, **_product_context(node.outputs[0].type.dtype)}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context=context)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(**self.values(kernel, out_layouts[0], in_layouts))

    @staticmethod
    def values(kernel: Kernel, out_layout: tuple, in_layouts: list) -> dict[str, Any]:
        """The product's slots and (MatMul) the batch shape and the batch strides of the
        output, a and b; a matrix times a stack is one product of all of a's rows."""
        (sa, ta), (sb, tb) = in_layouts
        out_shape, out_strides = out_layout
        nb = kernel.context["nb"]
        if len(sa) >= 2:
            m, k, a0, a1 = sa[-2], sa[-1], ta[-2], ta[-1]
        else:
            m, k, a0, a1 = 1, sa[0], 0, ta[0]
        if len(sb) >= 2:
            n, b0, b1 = sb[-1], tb[-2], tb[-1]
        else:
            n, b0, b1 = 1, tb[0], 0
        batch = tuple(out_shape[:nb])
        st_o = tuple(out_strides[:nb])
        st_a = loop_strides(tuple(sa[:nb]), tuple(ta[:nb]), batch)
        st_b = loop_strides(tuple(sb[:nb]), tuple(tb[:nb]), batch)
        merged = _merge_rows(list(zip(batch, st_a)) + [(m, a0)]) if nb else None
        if merged is not None and all(s == 0 or n_ == 1 for n_, s in zip(batch, st_b)):
            m, a0 = merged
            batch, st_o, st_a, st_b = (1,) * nb, (0,) * nb, (0,) * nb, (0,) * nb
        product = product_params(m, n, k, (a0, a1, b0, b1), bool(kernel.context["blas"]),
                                 kernel.context["sfx"])
        return {"product": product, "batch": batch, "st_out": st_o, "st_a": st_a,
                "st_b": st_b}


def _c_number(value: float, dtype: str) -> str:
    """A C literal of a Gemm coefficient (finite; C rounds a double literal to float32
    as numpy does)."""
    return repr(float(value)) if dtype.startswith("float") else f"{int(value)}LL"


def _as_rows(shape: Sequence[int], strides: Sequence[int]) -> tuple[tuple, tuple]:
    """A layout of at most 2 axes as a matrix (length-1 axes added in front)."""
    pad = 2 - len(shape)
    return (1,) * pad + tuple(shape), (0,) * pad + tuple(strides)


class GemmKernel(KernelBuilder):
    """Gemm (alpha a b + beta c): c broadcast into the output, then one product added
    by BLAS gemm/gemv/dot with beta = 1 (float32, float64) or the generated loop.

    It never fails: a product that broadcasts goes to a temporary in the workspace
    (`scratch`), and when a packed copy of an operand cannot be allocated the product
    is computed by the generated loop, which reads any strides. So an update's Gemm
    before it can be written in place (lower.in_place_updates): the MLP step's W1
    update, which had to be computed into the workspace and copied into W1 (two
    copies of W1 per step) while W2's Gemm, which could fail, ran after it."""

    family = "dot_add"
    cannot_fail = True

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        dtype = node.outputs[0].type.dtype
        layout = ParamLayout(self.family, product=PRODUCT, broadcast=1, out_shape=2,
                             c_strides=2, prod_strides=2, scratch=1)
        context = {"nb": 0, **_product_context(dtype), "bool": False,
                   "alpha": _c_number(node.op.alpha, dtype), "beta": _c_number(node.op.beta, dtype)}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context=context)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """The product, whether it broadcasts (a length-1 axis where out has more), out
        as R x C, c's strides along (R, C), the (contiguous) product's strides."""
        product = DotKernel.values(kernel, out_layouts[0], in_layouts[:2])["product"]
        out_shape, _ = _as_rows(*out_layouts[0])
        c_shape, c_strides = _as_rows(*in_layouts[2])
        sa, sb = in_shapes[:2]
        prod = tuple(sa[:-1]) + tuple(sb[1:])
        prod_shape, prod_strides = _as_rows(prod, contiguous_strides(prod))
        return kernel.layout.build(
            product=product, broadcast=int(prod_shape != out_shape), out_shape=out_shape,
            c_strides=loop_strides(c_shape, c_strides, out_shape),
            prod_strides=loop_strides(prod_shape, prod_strides, out_shape), scratch=0)

    def scratch(self, node: Apply, in_shapes: list, out_shapes: list) -> int:
        """Room for the product when it broadcasts into the output (`params`' flag)."""
        sa, sb = in_shapes[:2]
        prod = tuple(sa[:-1]) + tuple(sb[1:])
        out = out_shapes[0]
        if _as_rows(prod, contiguous_strides(prod))[0] == _as_rows(out, contiguous_strides(out))[0]:
            return 0
        return math.prod(prod) * np.dtype(node.outputs[0].type.dtype).itemsize

    def writes_in_place(self, node: Apply, shared: Any) -> bool:
        """out = beta c + alpha a b: c copied first, then BLAS adds the product; a and b
        must not be the storage, and c only when beta is 1 (the copy is skipped)."""
        a, b, c = node.inputs
        return shared is not a and shared is not b and (c is not shared or node.op.beta == 1)


register_kernel(DotKernel(), Dot, MatMul)
register_kernel(GemmKernel(), Gemm)
