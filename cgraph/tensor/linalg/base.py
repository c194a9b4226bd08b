"""What every LAPACK op shares: the batch rule (PyTensor's Blockwise: the core axes
last, the leading axes broadcast as numpy broadcasts), the type checks, and the one
kernel builder of the family (`templates/lapack.c.j2`), which loops over the batch and
calls the LAPACK routine of scipy-openblas32 once per matrix.

An op states its core: `core_ranks` (the rank of each input's core: 2 for a matrix, 1
for a vector right-hand side), `out_core(n, k)` (each output's core shape from the
matrix order n and the right-hand side's columns k) and `out_ranks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, loop_strides, register_kernel
from cgraph.tensor.blas_ops import BLAS_PREFIX
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import pad_left
from cgraph.tensor.type import TensorType, as_tensor_variable

#: scipy-openblas32's LAPACK takes 32-bit sizes
_LAPACK_INT_MAX = 2**31 - 1
#: the template's switches (an op's kernel_flags overrides some)
FLAGS = {"lower": False, "trans": 0, "unit": False, "nan": False, "assume_a": "",
         "vectors": False, "mode": "", "full": False, "rcond": None}
FLOATS = ("float32", "float64")


def _broadcast(shapes: Sequence[Sequence[int | None]], what: str) -> tuple:
    """numpy's broadcast of batch shapes of equal length (None: unknown length)."""
    out = []
    for lengths in zip(*shapes):
        known = {n for n in lengths if n is not None and n != 1}
        if len(known) > 1:
            raise ValueError(f"{what}: batch shapes {', '.join(map(str, shapes))} do not "
                             "broadcast")
        if known:
            out.append(known.pop())
        elif all(n == 1 for n in lengths):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


class LapackOp(Op):
    """A LAPACK routine applied to each matrix of a batch (PyTensor's Blockwise)."""

    #: the user-facing name in messages (`cholesky`, `solve`...)
    name = "lapack"
    #: rank of each input's core (the trailing axes one LAPACK call reads)
    core_ranks: tuple[int, ...] = (2,)
    #: rank of each output's core
    out_ranks: tuple[int, ...] = (2,)
    #: the first input's matrices must be square (False: m x n, `rect.RectLapackOp`)
    square = True
    #: the kernel's rectangular branch (the layout's n and k are the rows and columns)
    rect = False

    def kernel_flags(self) -> dict[str, Any]:
        """The template's switches for this op (`FLAGS` gives the others)."""
        return {}

    def workspace(self, n: int, k: int) -> tuple[int, int]:
        """(lwork, liwork): the LAPACK routine's work sizes for an n x n matrix."""
        return 0, 0

    def extra_slots(self) -> dict[str, int]:
        """The op's own plan slots (field name -> count), after the family's."""
        return {}

    def extra_params(self, out_layouts: list, in_layouts: list) -> dict[str, Any]:
        """The values of `extra_slots` for one call's (shape, strides) layouts."""
        return {}

    def out_dtype(self, i: int, dtype: str) -> str:
        """Output i's dtype, given the inputs' float dtype (int32 for pivots)."""
        return dtype

    def out_core(self, n: Any, k: Any) -> list[tuple]:
        """Each output's core shape for an n x n matrix and k right-hand sides."""
        return [(n, n)]

    def _inputs(self, *inputs: Any) -> list:
        args = [as_tensor_variable(x) for x in inputs]
        for i, (x, rank) in enumerate(zip(args, self.core_ranks)):
            if x.dtype not in FLOATS:
                raise TypeError(f"{self.name}: input {i} must be float32 or float64, got "
                                f"{x.type} (cast integers with cgraph.tensor.cast)")
            if x.ndim < rank:
                kind = "a matrix" if rank == 2 else "a vector"
                raise TypeError(f"{self.name}: input {i} must be {kind} or a stack of them "
                                f"(at least {rank} axes), got {x.type}")
        dtype = "float64" if any(x.dtype == "float64" for x in args) else "float32"
        args = [x if x.dtype == dtype else cast(x, dtype) for x in args]
        a = args[0]
        if self.square and None not in a.type.shape[-2:] and \
                a.type.shape[-1] != a.type.shape[-2]:
            raise ValueError(f"{self.name}: expected square matrices, got {a.type}")
        return args

    def make_node(self, *inputs: Any) -> Apply:
        args = self._inputs(*inputs)
        nb = max(x.ndim - r for x, r in zip(args, self.core_ranks))
        args = [pad_left(x, nb + r) for x, r in zip(args, self.core_ranks)]
        batch = _broadcast([x.type.shape[:nb] for x in args], self.name)
        n = args[0].type.shape[-1]
        if n is None:
            n = args[0].type.shape[-2]
        if len(args) > 1:
            rows = args[1].type.shape[nb]
            if n is not None and rows is not None and rows != n:
                raise ValueError(f"{self.name}: the right-hand side {args[1].type} has {rows} "
                                 f"rows for a {n} x {n} matrix")
        k = args[1].type.shape[-1] if len(args) > 1 and self.core_ranks[1] == 2 else 1
        dtype = args[0].dtype
        outs = [TensorType(self.out_dtype(i, dtype), batch + core).make_variable()
                for i, core in enumerate(self.out_core(n, k))]
        return Apply(self, args, outs)

    def _sizes(self, shapes: Sequence[tuple]) -> tuple[int, tuple, int, int]:
        """(batch rank, broadcast batch shape, n, k) of one call's input shapes."""
        nb = len(shapes[0]) - 2
        sa = shapes[0]
        if sa[-1] != sa[-2]:
            raise ValueError(f"{self.name}: expected square matrices, got shape {tuple(sa)}")
        n, k = sa[-1], 1
        if len(shapes) > 1:
            sb = shapes[1]
            if sb[nb] != n:
                raise ValueError(f"{self.name}: the right-hand side of shape {tuple(sb)} has "
                                 f"{sb[nb]} rows for a {n} x {n} matrix")
            k = sb[-1] if self.core_ranks[1] == 2 else 1
        batch = _broadcast([tuple(s[:nb]) for s in shapes], self.name)
        if max(n, k) > _LAPACK_INT_MAX or 2 * n * n + 6 * n + 1 > _LAPACK_INT_MAX:
            raise ValueError(f"{self.name}: a {n} x {n} matrix is too large for LAPACK's "
                             "32-bit sizes")
        return nb, batch, n, k

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        _, batch, n, k = self._sizes(shapes)
        return [batch + core for core in self.out_core(n, k)]


def swap(x: np.ndarray) -> np.ndarray:
    """The last two axes exchanged (numpy)."""
    return np.swapaxes(x, -1, -2)


def from_triangle(a: np.ndarray, lower: bool) -> np.ndarray:
    """The symmetric matrix LAPACK sees when it reads only one triangle of `a`."""
    tri = np.tril(a) if lower else np.triu(a)
    strict = np.tril(a, -1) if lower else np.triu(a, 1)
    return tri + swap(strict)


# --------------------------------------------------------------------------- kernel


class LapackKernel(KernelBuilder):
    """Every LapackOp: a loop over the batch, one LAPACK call per matrix on a
    column-major copy (lapack.c.j2; the op's routine by `context["op"]`)."""

    family = "lapack"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        nb = node.inputs[0].type.ndim - 2
        nops = len(node.outputs) + len(node.inputs)
        layout = ParamLayout(self.family, batch=nb, st=(nops, max(nb, 1)), mat=(nops, 2),
                             n=1, k=1, lwork=1, liwork=1, **node.op.extra_slots())
        dtype = node.inputs[0].type.dtype
        context = {"op": node.op.kernel_name, "nb": nb, "blas": BLAS_PREFIX[dtype],
                   "name": node.op.name, "rect": node.op.rect, **FLAGS,
                   **node.op.kernel_flags()}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context=context)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        op = node.op
        nb, batch, n, k = op._sizes([s for s, _ in in_layouts])
        st, mat = [], []
        for (shape, strides), rank in zip(
                [*out_layouts, *in_layouts], [*op.out_ranks, *op.core_ranks]):
            st.extend(loop_strides(shape[:nb], strides[:nb], batch) if nb else (0,))
            core = list(strides[nb:]) + [0] * (2 - rank)
            mat.extend(core[:2])
        lwork, liwork = op.workspace(n, k)
        return kernel.layout.build(batch=batch, st=st, mat=mat, n=n, k=k, lwork=lwork,
                                   liwork=liwork, **op.extra_params(out_layouts, in_layouts))


LAPACK_KERNEL = LapackKernel()
register_kernel(LAPACK_KERNEL, LapackOp)
