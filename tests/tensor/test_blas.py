"""Linear algebra: dot, matmul (@), outer, tensordot, batched_dot, batched_tensordot.

Compiled (C) and reference (PY) results against numpy for every rank combination,
float32/float64/integer dtypes, transposed and strided operands, empty axes and
batch broadcasting; gradients against central differences; the BLAS paths the
planner picks; errors. Each test compiles one function with many outputs and calls
it with several shapes, so that the whole file needs few compiles.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import scipy_openblas32
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.codegen import ShapeError, make_plan
from cgraph.codegen.render import csrc_dir
from cgraph.scan import scan
from cgraph.tensor import blas_ops
from cgraph.tensor.blas_ops import DOT_PATHS, PRODUCT, product_params
from cgraph.tensor.reduce import broadcast_like

TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}


def sample(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    """Values of `dtype`: small integers (exact products), or floats in [-1, 1)."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-4, 5, shape).astype(dtype)
    return rng.uniform(-1, 1, shape).astype(dtype)


def strided(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Non-contiguous views holding the same values (every other element of a copy)."""
    return [np.repeat(a, 2, axis=-1)[..., ::2] if a.ndim else a for a in arrays]


def compile_modes(inputs: list, outputs: list) -> dict[str, cgraph.Function]:
    """The same graph compiled in mode C and in mode PY (the numpy reference)."""
    return {mode: cgraph.function(inputs, outputs, mode=mode, on_unused_input="ignore")
            for mode in MODES}


def check(fns: dict, exprs: dict, calls: dict[str, list], lib=np) -> None:
    """Every mode, every argument list: output k equals numpy on expression k."""
    for call, args in calls.items():
        expected = [np.asarray(e(lib, *args)) for e in exprs.values()]
        for mode, f in fns.items():
            for label, out, exp in zip(exprs, f(*args), expected, strict=True):
                where = f"{mode} {label} [{call}]"
                assert out.dtype == exp.dtype, f"{where}: dtype {out.dtype}, numpy {exp.dtype}"
                assert out.shape == exp.shape, f"{where}: shape {out.shape}, numpy {exp.shape}"
                if exp.dtype.kind == "f":
                    np.testing.assert_allclose(out, exp, err_msg=where, **TOLERANCE[exp.dtype.name])
                else:
                    np.testing.assert_array_equal(out, exp, err_msg=where)


# --------------------------------------------------------------------------- dot, all ranks

#: Operand shapes by rank from sizes (m, k, n, p): a's last axis and b's second-to-last
#: (its only axis when 1-d) are the summed k.
A_SHAPES = (lambda m, k, n, p: (), lambda m, k, n, p: (k,), lambda m, k, n, p: (m, k),
            lambda m, k, n, p: (p, m, k))
B_SHAPES = (lambda m, k, n, p: (), lambda m, k, n, p: (k,), lambda m, k, n, p: (k, n),
            lambda m, k, n, p: (p + 1, k, n))


def _dot_expr(ra: int, rb: int):
    return lambda lib, *xs: lib.dot(xs[ra], xs[4 + rb])


#: dot of an a of each rank (inputs 0-3) with a b of each rank (inputs 4-7).
DOT_EXPRS = {f"dot {ra}-d . {rb}-d": _dot_expr(ra, rb) for ra in range(4) for rb in range(4)}
#: (m, k, n, p): BLAS-sized, tiny (the generated loop), an empty sum, empty rows, k = 1.
DOT_SIZES = {"gemm sizes": (20, 40, 25, 2), "tiny": (2, 3, 2, 1), "k = 0": (3, 0, 4, 2),
             "m = n = 0": (0, 5, 0, 2), "k = 1": (40, 1, 30, 1)}


#: where a product's path is in its plan slots
PATH = PRODUCT.slots().path


def planned_paths(f: cgraph.Function, args: list) -> set[str]:
    """The ways (DOT_PATHS) the products of `f` are computed for these arguments."""
    lowered = f._lowered
    plan = make_plan(lowered, tuple(np.shape(a) for a in args))
    names = {value: name for name, value in DOT_PATHS.items()}
    return {names[int(plan.params[lowered.kernel_slots[id(node)] + PATH])]
            for node in lowered.nodes if lowered.kernels.get(id(node)) is not None
            and lowered.kernels[id(node)].family == "dot"}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_dot_every_rank_combination(dtype):
    variables = [T.tensor(dtype, ndim=r % 4) for r in range(8)]
    fns = compile_modes(variables, [e(T, *variables) for e in DOT_EXPRS.values()])
    rng = rng_for("dot ranks", dtype)
    calls = {label: [sample(rng, shape(*size), dtype) for shape in A_SHAPES + B_SHAPES]
             for label, size in DOT_SIZES.items()}
    check(fns, DOT_EXPRS, calls)
    paths = {label: planned_paths(fns["C"], args) for label, args in calls.items()}
    if dtype.startswith("float"):
        assert {"gemm", "gemv_a", "gemv_b", "dot"} <= paths["gemm sizes"]
        assert paths["tiny"] == {"loop"}
        assert paths["k = 0"] == {"zeros"} and "empty" in paths["m = n = 0"]
    else:
        assert paths["gemm sizes"] == {"loop"}


# --------------------------------------------------------------------------- matmul

# Expressions of x (P,1,M,K), y (Q,K,N), A (M,K), B (K,N), u (K,), S (P,M,K).
MATMUL_EXPRS = {
    "batch broadcast (P,1,M,K) @ (Q,K,N)": lambda lib, x, y, A, B, u, S: x @ y,
    "matmul(A, B)": lambda lib, x, y, A, B, u, S: lib.matmul(A, B),
    "stack @ matrix (one gemm)": lambda lib, x, y, A, B, u, S: S @ B,
    "matrix @ stack": lambda lib, x, y, A, B, u, S: A @ y,
    "vector @ stack": lambda lib, x, y, A, B, u, S: u @ y,
    "stack @ vector": lambda lib, x, y, A, B, u, S: S @ u,
    "vector @ vector": lambda lib, x, y, A, B, u, S: u @ u,
    "vector @ matrix": lambda lib, x, y, A, B, u, S: u @ B,
    "transposed stack": lambda lib, x, y, A, B, u, S: S.transpose(0, 2, 1) @ S,
    "strided stacks (packed)": lambda lib, x, y, A, B, u, S: S.transpose(2, 0, 1)
    @ S.transpose(2, 1, 0),
    "4-d @ transposed 3-d": lambda lib, x, y, A, B, u, S: x @ S.transpose(0, 2, 1),
}


def matmul_args(rng, dtype: str, p: int, q: int, m: int, k: int, n: int) -> list:
    shapes = [(p, 1, m, k), (q, k, n), (m, k), (k, n), (k,), (p, m, k)]
    return [sample(rng, s, dtype) for s in shapes]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
def test_matmul(dtype):
    variables = [T.tensor(dtype, ndim=d) for d in (4, 3, 2, 2, 1, 3)]
    fns = compile_modes(variables, [e(T, *variables) for e in MATMUL_EXPRS.values()])
    rng = rng_for("matmul", dtype)
    calls = {
        "(P,Q,M,K,N) = (2,3,20,20,20)": matmul_args(rng, dtype, 2, 3, 20, 20, 20),
        "tiny": matmul_args(rng, dtype, 1, 2, 2, 3, 2),
        "batch of 1 broadcast at run time": matmul_args(rng, dtype, 3, 1, 9, 17, 11),
        "k = 0": matmul_args(rng, dtype, 2, 3, 4, 0, 5),
        "empty batch": matmul_args(rng, dtype, 0, 3, 4, 6, 5),
        "m = 0": matmul_args(rng, dtype, 2, 2, 0, 6, 5),
    }
    check(fns, MATMUL_EXPRS, calls)


def test_matmul_static_shapes():
    x = T.tensor("float64", (1, 4, 5))
    y = T.tensor("float64", (3, None, 2))
    out = x @ y
    assert out.type.shape == (3, 4, 2)
    assert T.matmul(T.dvector(), y).type.shape == (3, 2)
    assert T.dot(T.tensor("float64", (7, 4, 5)), T.dmatrix()).type.shape == (7, 4, None)
    rng = rng_for("static matmul")
    a, b = rng.random((1, 4, 5)), rng.random((3, 5, 2))
    for mode in MODES:
        np.testing.assert_allclose(cgraph.function([x, y], out, mode=mode)(a, b), a @ b,
                                   rtol=1e-13)


def test_numpy_operands():
    # array @ tensor goes to the tensor's __rmatmul__ (numpy defers); lists are tensors.
    x = T.dmatrix()
    a = np.arange(6.0).reshape(2, 3)
    outs = [a @ x, x @ a.T, T.dot([1.0, 2.0, 3.0], x), T.matmul(x, [1.0, 2.0, 3.0])]
    assert [o.type.shape for o in outs] == [(2, None), (None, 2), (None,), (None,)]
    m = np.arange(9.0).reshape(3, 3)
    expected = [a @ m, m @ a.T, np.dot([1.0, 2.0, 3.0], m), m @ [1.0, 2.0, 3.0]]
    for out, exp in zip(cgraph.function([x], outs)(m), expected, strict=True):
        np.testing.assert_allclose(out, exp, rtol=1e-14)


# --------------------------------------------------------------------------- layouts

# Expressions of A (m,k), B (k,n), C (n,k), D (k,m), v (k,), w (m,), c (k,1).
LAYOUT_EXPRS = {
    "A.T @ w": lambda lib, A, B, C, D, v, w, c: A.T @ w,
    "w @ D.T": lambda lib, A, B, C, D, v, w, c: w @ D.T,
    "A @ C.T": lambda lib, A, B, C, D, v, w, c: A @ C.T,
    "D.T @ B": lambda lib, A, B, C, D, v, w, c: D.T @ B,
    "D.T @ C.T": lambda lib, A, B, C, D, v, w, c: D.T @ C.T,
    "C.T.T @ A.T (a view of a view)": lambda lib, A, B, C, D, v, w, c: C.T.T @ A.T,
    "D.T @ v": lambda lib, A, B, C, D, v, w, c: D.T @ v,
    "v @ C.T": lambda lib, A, B, C, D, v, w, c: v @ C.T,
    "c.T @ c (one dot)": lambda lib, A, B, C, D, v, w, c: c.T @ c,
    "c @ c.T (k = 1)": lambda lib, A, B, C, D, v, w, c: c @ c.T,
    "c.T @ B (one row)": lambda lib, A, B, C, D, v, w, c: c.T @ B,
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_transposed_operands(dtype):
    variables = [T.tensor(dtype, ndim=d) for d in (2, 2, 2, 2, 1, 1, 2)]
    fns = compile_modes(variables, [e(T, *variables) for e in LAYOUT_EXPRS.values()])
    rng = rng_for("layouts", dtype)

    def args(m, k, n):
        shapes = [(m, k), (k, n), (n, k), (k, m), (k,), (m,), (k, 1)]
        return [sample(rng, s, dtype) for s in shapes]

    check(fns, LAYOUT_EXPRS, {"(m,k,n) = (30,40,20)": args(30, 40, 20), "tiny": args(2, 3, 2),
                              "non-contiguous arguments": strided(args(30, 40, 20)),
                              "k = 0": args(3, 0, 2), "m = 0": args(0, 3, 5)})


def test_stride_zero_operands_are_packed():
    # broadcast_like views have stride 0: BLAS cannot read them, the kernel packs a copy.
    col, row, M = T.dcol(), T.drow(), T.dmatrix()
    wide, tall = broadcast_like(row, M.T), broadcast_like(col, M)
    outs = [T.dot(wide, M), T.dot(M, wide), T.dot(tall.T, M), T.dot(T.dot(tall, M.T), M),
            T.dot(T.dot(M, tall).T, M)]
    fns = compile_modes([col, row, M], outs)
    rng = rng_for("packed")
    c, r, m = rng.random((30, 1)), rng.random((1, 30)), rng.random((30, 30))
    w, t = np.broadcast_to(r, (30, 30)), np.broadcast_to(c, (30, 30))
    expected = [w @ m, m @ w, t.T @ m, (t @ m.T) @ m, (m @ t).T @ m]
    for mode, f in fns.items():
        for out, exp in zip(f(c, r, m), expected, strict=True):
            np.testing.assert_allclose(out, exp, rtol=1e-12, err_msg=mode)


def test_layouts_the_planner_gives_blas():
    gemm, gemv_a, gemv_b, dot, loop = (DOT_PATHS[p] for p in
                                       ("gemm", "gemv_a", "gemv_b", "dot", "loop"))

    def plan(m, n, k, strides):
        """[path, then for a and b: transposed, leading dimension or increment, elements
        of the packed copy]."""
        return product_params(m, n, k, strides, blas=True)[PATH:]

    assert plan(50, 40, 30, (30, 1, 40, 1)) == [gemm, 0, 30, 0, 0, 40, 0]
    assert plan(50, 40, 30, (1, 50, 1, 30)) == [gemm, 1, 50, 0, 1, 30, 0]  # A.T, B.T views
    assert plan(50, 40, 30, (60, 1, 80, 1)) == [gemm, 0, 60, 0, 0, 80, 0]  # row slices
    assert plan(50, 40, 30, (0, 1, 40, 1)) == [gemm, 0, 30, 1500, 0, 40, 0]  # stride 0: packed
    assert plan(50, 40, 30, (60, 2, 40, 1)) == [gemm, 0, 30, 1500, 0, 40, 0]  # no unit stride
    assert plan(50, 40, 30, (-30, 1, 40, 1))[3] == 1500                       # negative: packed
    assert plan(50, 1, 30, (1, 50, 3, 0)) == [gemv_a, 1, 50, 0, 0, 3, 0]   # A.T @ strided v
    assert plan(1, 40, 30, (0, 2, 1, 30)) == [gemv_b, 0, 2, 0, 1, 30, 0]   # v @ B.T
    assert plan(1, 1, 300, (0, 1, -1, 0)) == [dot, 0, 1, 0, 0, 1, 300]     # reversed: packed
    assert plan(2, 2, 2, (2, 1, 2, 1))[0] == loop  # tiny: the generated loop
    assert plan(2**31, 2, 2, (2, 1, 2, 1))[0] == loop  # beyond BLAS's 32-bit sizes
    assert product_params(50, 40, 30, (30, 1, 40, 1), blas=False)[PATH] == loop  # integers
    assert product_params(5, 0, 3, (3, 1, 0, 1), blas=True)[PATH] == DOT_PATHS["empty"]
    assert product_params(5, 4, 0, (0, 1, 4, 1), blas=True)[PATH] == DOT_PATHS["zeros"]


def test_loop_path_for_floats(monkeypatch):
    # The generated loop on BLAS-sized float products (modules without BLAS run it).
    A, B = T.dmatrix(), T.dmatrix()
    f = cgraph.function([A, B], [A @ B, A.T @ B, A @ B.T])
    rng = rng_for("loop")
    a, b = rng.random((40, 40)), rng.random((40, 40))
    monkeypatch.setattr(blas_ops, "BLAS_MIN_WORK", dict.fromkeys(blas_ops.BLAS_MIN_WORK, 2**62))
    for out, exp in zip(f(a, b), [a @ b, a.T @ b, a @ b.T], strict=True):
        np.testing.assert_allclose(out, exp, rtol=1e-12)


# --------------------------------------------------------------------------- tensordot, outer

# Expressions of x (2,3,4), y (4,3,5), m (3,4), v (4,), s ().
TENSORDOT_EXPRS = {
    "tensordot axes=2": lambda lib, x, y, m, v, s: lib.tensordot(x, y.transpose(1, 0, 2), 2),
    "tensordot axes=1": lambda lib, x, y, m, v, s: lib.tensordot(x, y, 1),
    "tensordot axes=0": lambda lib, x, y, m, v, s: lib.tensordot(m, v, 0),
    "tensordot pairs, unordered": lambda lib, x, y, m, v, s: lib.tensordot(x, y,
                                                                           [[2, 1], [0, 1]]),
    "tensordot negative axes": lambda lib, x, y, m, v, s: lib.tensordot(x, m, [[-1, -2], [1, 0]]),
    "tensordot of everything": lambda lib, x, y, m, v, s: lib.tensordot(m, m, [[0, 1], [0, 1]]),
    "tensordot one pair": lambda lib, x, y, m, v, s: lib.tensordot(x, v, [[2], [0]]),
    "tensordot 0-d": lambda lib, x, y, m, v, s: lib.tensordot(s, m, 0),
    "outer(m, v) (flattened)": lambda lib, x, y, m, v, s: lib.outer(m, v),
    "outer(s, v)": lambda lib, x, y, m, v, s: lib.outer(s, v),
}


def test_tensordot_and_outer():
    shapes = [(2, 3, 4), (4, 3, 5), (3, 4), (4,), ()]
    variables = [T.tensor("float64", ndim=len(s)) for s in shapes]
    fns = compile_modes(variables, [e(T, *variables) for e in TENSORDOT_EXPRS.values()])
    rng = rng_for("tensordot")

    def args(scale):
        return [sample(rng, tuple(n * scale for n in s), "float64") for s in shapes]

    check(fns, TENSORDOT_EXPRS, {"small": args(1), "BLAS-sized": args(4), "empty": args(0)})


# --------------------------------------------------------------------------- batched


def np_batched_dot(a, b):
    """Theano's batched_dot in numpy: dot of each pair along the first axis."""
    if a.ndim == 1:
        return a.reshape(a.shape + (1,) * (b.ndim - 1)) * b
    if b.ndim == 1:
        return a * b.reshape(b.shape + (1,) * (a.ndim - 1))
    return np.stack([np.dot(x, y) for x, y in zip(a, b)])


def np_batched_tensordot(a, b, axes):
    """Theano's batched_tensordot in numpy (axes count the batch axis)."""
    if isinstance(axes, int):
        axes = [list(range(a.ndim - axes, a.ndim)), list(range(1, axes + 1))]
    inner = [[i - 1 for i in axes[0]], [i - 1 for i in axes[1]]]
    return np.stack([np.tensordot(x, y, inner) for x, y in zip(a, b)])


# Expressions of x3 (B,M,K), y3 (B,K,N), x2 (B,K), y2 (B,K), v (B,), q (B,2,M,K),
# with `bd` batched_dot and `btd` batched_tensordot.
BATCHED_EXPRS = {
    "3-d . 3-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(x3, y3),
    "3-d . 2-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(x3, y2),
    "2-d . 3-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(x2, y3),
    "2-d . 2-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(x2, y2),
    "1-d . 3-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(v, y3),
    "3-d . 1-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(x3, v),
    "4-d . 3-d": lambda bd, btd, x3, y3, x2, y2, v, q: bd(q, y3),
    "batched_tensordot 1": lambda bd, btd, x3, y3, x2, y2, v, q: btd(x3, y3, 1),
    "batched_tensordot pairs": lambda bd, btd, x3, y3, x2, y2, v, q: btd(q, x3,
                                                                         [[2, 3], [1, 2]]),
    "batched_tensordot free": lambda bd, btd, x3, y3, x2, y2, v, q: btd(x3, y2, [[2], [1]]),
}


def test_batched_dot_and_tensordot():
    ndims = (3, 3, 2, 2, 1, 4)
    variables = [T.tensor("float64", ndim=d) for d in ndims]
    exprs = {label: (lambda e: lambda lib, *xs: e(*lib, *xs))(e)
             for label, e in BATCHED_EXPRS.items()}
    fns = compile_modes(variables, [e((T.batched_dot, T.batched_tensordot), *variables)
                                    for e in exprs.values()])
    rng = rng_for("batched")

    def args(b, m, k, n):
        shapes = [(b, m, k), (b, k, n), (b, k), (b, k), (b,), (b, 2, m, k)]
        return [sample(rng, s, "float64") for s in shapes]

    check(fns, exprs, {"(B,M,K,N) = (3,20,20,20)": args(3, 20, 20, 20),
                       "tiny": args(2, 2, 3, 2), "k = 0": args(2, 3, 0, 4)},
          lib=(np_batched_dot, np_batched_tensordot))


# --------------------------------------------------------------------------- dtypes

# Expressions of i (int32 (m,k)), f (float32 (k,n)), b (int8 (k,)), l (int64 (n,k)),
# d (float64 (k,)), g (int16 3-d (2,m,k)).
MIXED_EXPRS = {
    "int32 @ float32 -> float64": lambda lib, i, f, b, l, d, g: i @ f,
    "int8 . int32 -> int32": lambda lib, i, f, b, l, d, g: lib.dot(i, b),
    "float32 . float64 -> float64": lambda lib, i, f, b, l, d, g: lib.dot(d, f),
    "tensordot(int64, float32)": lambda lib, i, f, b, l, d, g: lib.tensordot(l, f, [[1], [0]]),
    "outer(int8, float32) -> float32": lambda lib, i, f, b, l, d, g: lib.outer(b, f),
    "int16 stack @ float32": lambda lib, i, f, b, l, d, g: g @ f,
    "int16 stack @ int64 (int64 loop)": lambda lib, i, f, b, l, d, g: g @ l.T,
}


def test_mixed_dtypes_promote_as_numpy():
    dtypes = ["int32", "float32", "int8", "int64", "float64", "int16"]
    ndims = [2, 2, 1, 2, 1, 3]
    variables = [T.tensor(dt, ndim=d) for dt, d in zip(dtypes, ndims)]
    fns = compile_modes(variables, [e(T, *variables) for e in MIXED_EXPRS.values()])
    rng = rng_for("mixed")

    def args(m, k, n):
        shapes = [(m, k), (k, n), (k,), (n, k), (k,), (2, m, k)]
        return [sample(rng, s, dt) for s, dt in zip(shapes, dtypes)]

    check(fns, MIXED_EXPRS, {"BLAS-sized": args(20, 30, 10), "tiny": args(2, 2, 2)})


# --------------------------------------------------------------------------- gradients


def _flat(*outs):
    return T.concatenate([T.flatten(o) for o in outs])


@pytest.mark.slow
def test_gradients():
    rng = rng_for("grad")
    shapes = [(6, 7), (7, 5), (7,), (2, 1, 6, 7), (3, 7, 5), (3, 4, 7, 2), (3, 7)]
    pt = [rng.uniform(-1, 1, s) for s in shapes]

    def fun(A, B, v, X, Y, Z, W):
        return _flat(T.dot(A, B), T.dot(v, B), T.dot(A, v), T.dot(v, v), T.dot(A.T.T, B),
                     X @ Y,                           # broadcast batch: gradients summed
                     T.dot(X, B), T.dot(A, Z),        # N-d dot: matmul and tensordot
                     v @ Y, X @ v,                    # promoted vectors
                     T.tensordot(Z, Y, [[0, 2], [0, 1]]), T.outer(A, v),
                     T.batched_dot(Y, Y.transpose(0, 2, 1)), T.batched_dot(W, Y),
                     T.batched_tensordot(Z, Y, [[2], [1]]))

    for mode in MODES:
        verify_grad_cases({"products": (fun, pt)}, mode, rng=rng_for("grad", mode))


# --------------------------------------------------------------------------- errors


def st(*shape):
    return T.tensor("float64", shape)


@pytest.mark.parametrize("build, message", [
    (lambda: T.dot(st(2, 3, 4), st(5, 6)), r"\[2,3,4\].*\[5,6\]"),
    (lambda: T.dot(st(2, 3), st(2, 4, 5)), r"\[2,3\] and .*\[2,4,5\] are not aligned"),
    (lambda: st(2, 3) @ st(4, 5), r"not aligned"),
    (lambda: st(3, 2, 3) @ st(3, 4, 5), r"\[3,2,3\].*\[3,4,5\].*not aligned"),
    (lambda: st(2, 3, 4) @ st(3, 4, 5), r"batch shapes \(2,\) and \(3,\) do not broadcast"),
    (lambda: T.tensordot(st(2, 3), st(4, 5), 1), r"axis 1 .*length 3.*axis 0 .*length 4"),
    (lambda: T.tensordot(st(2, 3), st(3, 5), [[1], [0, 1]]), r"differ in number"),
    (lambda: T.tensordot(st(2, 3), st(3, 5), [[2], [0]]), r"axis 2 is out of range"),
    (lambda: T.tensordot(st(2, 3), st(3, 5), [[1, 1], [0, 1]]), r"repeated axis"),
    (lambda: T.tensordot(st(2, 3), st(3, 5), 3), r"cannot sum over 3 axes"),
    (lambda: T.batched_dot(st(2, 3, 4), st(3, 4, 5)), r"do not broadcast"),
    (lambda: T.batched_tensordot(st(2, 3), st(2, 3), [[0], [0]]), r"batch axis"),
    (lambda: T.matmul(T.dscalar(), st(2, 2)), r"at least one axis"),
], ids=lambda v: None if callable(v) else v)
def test_static_errors_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_type_errors():
    with pytest.raises(TypeError, match="batch axis"):
        T.batched_dot(T.dscalar(), T.dmatrix())
    with pytest.raises(TypeError, match="axes must be"):
        T.tensordot(T.dmatrix(), T.dmatrix(), "x")
    with pytest.raises(TypeError, match="equal rank"):
        T.blas.MatMul()(T.dmatrix(), T.dtensor3())


@pytest.mark.parametrize("mode", MODES)
def test_shape_mismatch_when_called(mode):
    x, y, m, z = T.dtensor3(), T.dtensor3(), T.dmatrix(), T.dtensor3()
    outs = [x @ y, T.dot(x, m), T.tensordot(x, z, [[1, 2], [0, 1]]), T.batched_dot(x, y)]
    f = cgraph.function([x, y, m, z], outs, mode=mode)
    good = [(2, 3, 4), (2, 4, 4), (4, 5), (3, 4, 5)]
    assert [o.shape for o in f(*map(np.ones, good))] == [(2, 3, 4), (2, 3, 5), (2, 5),
                                                          (2, 3, 4)]
    cases = [
        ({1: (2, 5, 6)}, r"\(2, 3, 4\) and \(2, 5, 6\) are not aligned"),
        ({1: (3, 4, 4)}, r"batch shapes \(2,\) and \(3,\) do not broadcast"),
        ({2: (5, 5)}, r"\(2, 3, 4\) and \(1, 5, 5\) are not aligned"),
        ({3: (4, 3, 5)}, r"tensordot: shape-mismatch for sum: axis 1 of shape \(2, 3, 4\) "
                         r"has length 3, axis 0 of shape \(4, 3, 5\) has length 4"),
    ]
    for changed, message in cases:
        shapes = [changed.get(i, s) for i, s in enumerate(good)]
        with pytest.raises(ShapeError, match=message):
            f(*map(np.ones, shapes))


# --------------------------------------------------------------------------- building


@pytest.mark.slow
def test_blas_linked_only_into_modules_that_call_it():
    A, v, n = T.dmatrix(), T.dvector(), T.lmatrix()
    with_blas = cgraph.function([A, v], T.dot(A, v)).build_options
    assert scipy_openblas32.get_library() in with_blas.libraries
    assert f"-DCG_BLAS_VERSION={scipy_openblas32.__version__}" in with_blas.cflags
    for f in (cgraph.function([n], T.dot(n, n)), cgraph.function([v], T.exp(v))):
        assert scipy_openblas32.get_library() not in f.build_options.libraries
        assert not any("CG_BLAS" in flag for flag in f.build_options.cflags)


def test_scan_with_products_links_blas():
    M, v0 = T.dmatrix(), T.dvector()
    vs, _ = scan(lambda v, M: T.tanh(T.dot(M, v)), outputs_info=[v0], non_sequences=[M],
                 n_steps=3)
    f = cgraph.function([M, v0], vs)
    assert scipy_openblas32.get_library() in f.build_options.libraries
    rng = rng_for("scan")
    m, v = rng.random((40, 40)) / 40, rng.random(40)
    expected, h = [], v
    for _ in range(3):
        h = np.tanh(m @ h)
        expected.append(h)
    np.testing.assert_allclose(f(m, v), np.stack(expected), rtol=1e-12)


@pytest.mark.slow
def test_generated_c_is_warning_free(tmp_path):
    # float (BLAS), integer and bool products, a batch; with and without CG_BLAS defined.
    x, m, i, s = T.ftensor3(), T.dmatrix(), T.imatrix(), T.dtensor3()
    f = cgraph.function([x, m, i, s], [x @ x, m @ m.T, i @ i, (i > 0) @ (i < 0), s @ m])
    source = tmp_path / "dot.c"
    source.write_text(f.c_source)
    blas = [flag for flag in f.build_options.cflags if flag.startswith(("-I", "-D"))]
    for defines in (blas, []):
        subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                        "-Werror", f"-I{csrc_dir()}", *defines, str(source)], check=True)


def test_one_thread_below_keeps_results_and_restores_the_thread_count():
    import ctypes

    lib = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(),
                                   f"lib{scipy_openblas32.get_library()}.so"))
    threads = lib.scipy_openblas_get_num_threads()
    a, b = T.dmatrix("a"), T.dmatrix("b")
    with cgraph.config.change_flags(blas_one_thread_below=2**40):
        f = cgraph.function([a, b], T.dot(a, b))
    assert f"-DCG_BLAS_MT_WORK={2**40}LL" in f.build_options.cflags
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((200, 300)), rng.standard_normal((300, 100))
    np.testing.assert_allclose(f(x, y), x @ y, rtol=1e-12, atol=1e-12)
    assert lib.scipy_openblas_get_num_threads() == threads
