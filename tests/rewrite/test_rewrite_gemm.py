"""The `specialize` rewrite and the Gemm op: `dot(a, b) + c`, `k1 * dot + k2 * c` and
`c - k * dot` become one BLAS call (alpha * a b + beta * c).

For each pattern: the rewritten graph holds a Gemm and no Dot or elementwise op, and
its results equal the unrewritten graph's (numpy references) for float64 and float32,
at BLAS sizes, tiny sizes (the generated loop), empty axes, a product that broadcasts
at run time, and non-contiguous arguments. Cases where the rewrite must not fire
(integers, a product read twice, mixed dtypes, a non-scalar factor), the hand-built
op (integers, gradients, errors) and an exported function using it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import assert_products_survive_short_memory, build_exported, reference

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.kernel import builder_of
from cgraph.rewrite import PASSES
from cgraph.tensor.blas import Gemm

RNG = np.random.default_rng(11)
TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-5)}


def op_names(f: cgraph.Function) -> list[str]:
    return [type(n.op).__name__ for n in f.fgraph.toposort()]


def gemm_nodes(f: cgraph.Function) -> list:
    return [n for n in f.fgraph.toposort() if isinstance(n.op, Gemm)]


def sample(shape: tuple, dtype: str) -> np.ndarray:
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-4, 5, shape).astype(dtype)
    return RNG.uniform(-1, 1, shape).astype(dtype)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous array (every other element of a copy)."""
    return np.repeat(a, 2, axis=-1)[..., ::2] if a.ndim else a


def assert_same(f, ref, args, dtype):
    for got, want in zip(f(*args), ref(*args), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


# --------------------------------------------------------------------------- the patterns

#: name -> (input ranks (or static shapes), expression, input shapes from sizes (m, k, n),
#: alpha, beta).
PATTERNS = {
    "dot + bias row": ((2, 2, 1), lambda x, w, b: T.dot(x, w) + b,
                       lambda m, k, n: [(m, k), (k, n), (n,)], 1.0, 1.0),
    "bias row + dot": ((2, 2, 1), lambda x, w, b: b + T.dot(x, w),
                       lambda m, k, n: [(m, k), (k, n), (n,)], 1.0, 1.0),
    "dot + matrix": ((2, 2, 2), lambda x, w, c: T.dot(x, w) + c,
                     lambda m, k, n: [(m, k), (k, n), (m, n)], 1.0, 1.0),
    "dot + column": ((2, 2, (None, 1)), lambda x, w, c: T.dot(x, w) + c,
                     lambda m, k, n: [(m, k), (k, n), (m, 1)], 1.0, 1.0),
    "dot + scalar": ((2, 2, 0), lambda x, w, s: T.dot(x, w) + s,
                     lambda m, k, n: [(m, k), (k, n), ()], 1.0, 1.0),
    "2 dot + 0.5 c": ((2, 2, 2), lambda x, w, c: 2.0 * T.dot(x, w) + 0.5 * c,
                      lambda m, k, n: [(m, k), (k, n), (m, n)], 2.0, 0.5),
    "c * 0.25 + dot * 3": ((2, 2, 2), lambda x, w, c: c * 0.25 + T.dot(x, w) * 3.0,
                           lambda m, k, n: [(m, k), (k, n), (m, n)], 3.0, 0.25),
    "sgd: W - 0.1 dot(x.T, g)": ((2, 2, 2), lambda x, g, w: w - 0.1 * T.dot(x.T, g),
                                 lambda m, k, n: [(k, m), (k, n), (m, n)], -0.1, 1.0),
    "c - dot": ((2, 2, 2), lambda x, w, c: c - T.dot(x, w),
                lambda m, k, n: [(m, k), (k, n), (m, n)], -1.0, 1.0),
    "0.5 dot - c.T": ((2, 2, 2), lambda x, w, c: 0.5 * T.dot(x, w.T) - c.T,
                      lambda m, k, n: [(m, k), (n, k), (n, m)], 0.5, -1.0),
    "gemv: dot(x, v) + y": ((2, 1, 1), lambda x, v, y: T.dot(x, v) + y,
                            lambda m, k, n: [(m, k), (k,), (m,)], 1.0, 1.0),
    "gemv: b - 0.5 dot(u, W)": ((1, 2, 1), lambda u, w, b: b - 0.5 * T.dot(u, w),
                                lambda m, k, n: [(k,), (k, n), (n,)], -0.5, 1.0),
    "dot of vectors + s": ((1, 1, 0), lambda u, v, s: T.dot(u, v) + s,
                           lambda m, k, n: [(k,), (k,), ()], 1.0, 1.0),
}
#: (m, k, n): BLAS sizes, tiny (the generated loop), empty rows, an empty sum, no columns.
SIZES = {"blas": (20, 30, 25), "tiny": (2, 3, 2), "m = 0": (0, 3, 4), "k = 0": (3, 0, 4),
         "n = 0": (4, 3, 0)}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_becomes_one_gemm(name, dtype):
    ranks, expr, shapes, alpha, beta = PATTERNS[name]
    variables = [T.tensor(dtype, shape=r) if isinstance(r, tuple) else T.tensor(dtype, ndim=r)
                 for r in ranks]
    out = expr(*variables)
    f = cgraph.function(variables, [out])
    assert f.rewrites["specialize"] in ({"gemm_add": 1}, {"gemm_sub": 1})
    (node,) = gemm_nodes(f)
    assert (node.op.alpha, node.op.beta) == (pytest.approx(alpha), beta)
    assert node.outputs[0].type == out.type
    names = op_names(f)
    assert "Dot" not in names and "Elemwise" not in names and "FusedElemwise" not in names
    ref = reference(variables, [out])
    for size in SIZES.values():
        args = [sample(s, dtype) for s in shapes(*size)]
        assert_same(f, ref, args, dtype)
        assert_same(f, ref, [noncontiguous(a) for a in args], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_product_broadcasting(dtype):
    """A product axis of static length 1 broadcasts against c's (through a temporary),
    as the unrewritten add does; one of length 1 only at run time is an error in both
    (Theano's rule)."""
    x, v, c = (T.tensor(dtype, ndim=2) for _ in range(3))
    w, y = T.tensor(dtype, shape=(None, 1)), T.tensor(dtype, shape=(None, 1))
    b = T.tensor(dtype, ndim=1)
    outs = [T.dot(x, w) + b, 0.5 * c - 2.0 * T.dot(y.T, v)]
    f = cgraph.function([x, w, b, y, v, c], outs)
    assert len(gemm_nodes(f)) == 2
    ref = reference([x, w, b, y, v, c], outs)
    # (m, k, len(b)) for x (m, k) w (k, 1); (k, n, r) for y (k, 1) v (k, n) c (r, n)
    for (m, k, nb), (k2, n2, r) in [((30, 40, 20), (40, 30, 20)), ((2, 3, 4), (3, 1, 5)),
                                     ((3, 0, 4), (0, 4, 3)), ((1, 5, 0), (5, 7, 0))]:
        args = [sample((m, k), dtype), sample((k, 1), dtype), sample((nb,), dtype),
                sample((k2, 1), dtype), sample((k2, n2), dtype), sample((r, n2), dtype)]
        assert_same(f, ref, args, dtype)
    x2, w2 = T.tensor(dtype, ndim=2), T.tensor(dtype, ndim=2)
    g = cgraph.function([x2, w2, b], T.dot(x2, w2) + b)
    for mode_f in (g, reference([x2, w2, b], T.dot(x2, w2) + b)):
        with pytest.raises(ValueError, match="has length 1 on axis 1"):
            mode_f(sample((3, 4), dtype), sample((4, 1), dtype), sample((5,), dtype))


@pytest.mark.slow
def test_does_not_fire_for_integers_shared_products_or_mixed_dtypes():
    for dtype in ("int64", "int32"):
        x, w = T.tensor(dtype, ndim=2), T.tensor(dtype, ndim=2)
        b = T.tensor(dtype, ndim=1)
        out = T.dot(x, w) + b
        f = cgraph.function([x, w, b], out)
        assert gemm_nodes(f) == [] and "Dot" in op_names(f)
        args = [sample((20, 30), dtype), sample((30, 25), dtype), sample((25,), dtype)]
        np.testing.assert_array_equal(f(*args), args[0] @ args[1] + args[2])
    x, w, c = T.dmatrices("x", "w", "c")
    # The product is an output too: it is computed anyway, and only once.
    f = cgraph.function([x, w, c], [T.dot(x, w), T.dot(x, w) + c])
    assert gemm_nodes(f) == [] and op_names(f).count("Dot") == 1
    # The scaled product is read twice.
    p = 0.5 * T.dot(x, w)
    f = cgraph.function([x, w, c], [p + c, T.exp(p)])
    assert gemm_nodes(f) == [] and op_names(f).count("Dot") == 1
    # float32 product plus a float64 term; a non-scalar factor.
    x32, w32 = T.fmatrices("x32", "w32")
    f = cgraph.function([x32, w32, c], [T.dot(x32, w32) + c, T.dot(x32, w32.T) * c + c])
    assert gemm_nodes(f) == [] and op_names(f).count("Dot") == 2
    args = [sample((4, 4), "float32"), sample((4, 4), "float32"), sample((4, 4), "float64")]
    got = f(*args)
    # float32 sums of 4 products: a result near 0 (cancellation) differs from numpy's
    # in its last float32 bits, relative to the terms rather than to itself
    np.testing.assert_allclose(got[0], args[0] @ args[1] + args[2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[1], (args[0] @ args[1].T) * args[2] + args[2], rtol=1e-6,
                               atol=1e-6)


def test_pass_order_and_exclusion():
    names = [name for name, _ in PASSES]
    assert names.index("specialize") < names.index("fusion")
    x, w = T.dmatrices("x", "w")
    b = T.dvector("b")
    with cgraph.config.change_flags(rewrite_exclude=["specialize"]):
        f = cgraph.function([x, w, b], T.dot(x, w) + b)
    assert gemm_nodes(f) == [] and "specialize" not in f.rewrites


# --------------------------------------------------------------------------- the op itself


def test_mlp_training_step_uses_gemm_for_the_updates():
    """Every weight update `W - lr * dot(...)` is a gemm, and so is the forward
    `dot(h, W2) - Y` (its product is read once: the mean's count reads X's rows, the
    shape feature's rewrite); the step equals the reference."""
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    W1 = cgraph.shared(RNG.standard_normal((6, 5)) * 0.3, name="W1")
    W2 = cgraph.shared(RNG.standard_normal((5, 3)) * 0.3, name="W2")
    loss = T.mean((T.dot(T.tanh(T.dot(X, W1)), W2) - Y) ** 2)
    updates = [(w, w - 0.1 * g) for w, g in zip((W1, W2), cgraph.grad(loss, [W1, W2]))]
    start = [W1.get_value(), W2.get_value()]
    f = cgraph.function([X, Y], loss, updates=updates)
    gemms = gemm_nodes(f)
    assert len(gemms) == 3
    assert {n.inputs[2].name for n in gemms} == {"W1", "W2", "Y"}
    xs, ys = RNG.standard_normal((4, 6)), RNG.standard_normal((4, 3))
    got = [f(xs, ys), W1.get_value(), W2.get_value()]
    W1.set_value(start[0])
    W2.set_value(start[1])
    with cgraph.config.change_flags(optimizer="None"):
        ref = cgraph.function([X, Y], loss, updates=updates, mode="PY")
    want = [ref(xs, ys), W1.get_value(), W2.get_value()]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["int64", "int32", "float64"])
def test_hand_built_gemm_every_path(dtype):
    """Integers take the generated loop; floats BLAS or the loop by size; a transposed
    operand and a transposed c."""
    a, b, c, d, e = (T.tensor(dtype, ndim=2) for _ in range(5))
    v = T.tensor(dtype, ndim=1)
    outs = [Gemm(3, -2)(a, b, c), Gemm(1, 1)(a, b, v), Gemm(-1, 2)(d.T, b, e.T)]
    fns = {mode: cgraph.function([a, b, c, v, d, e], outs, mode=mode) for mode in ("C", "PY")}
    assert [builder_of(n.op).family for n in gemm_nodes(fns["C"])] == ["dot_add"] * 3
    for m, k, n in [(20, 30, 25), (2, 3, 2), (0, 3, 4), (3, 0, 4), (7, 9, 1), (1, 9, 7)]:
        args = [sample(s, dtype) for s in [(m, k), (k, n), (m, n), (n,), (k, m), (n, m)]]
        A, B, C, V, D, E = args
        want = [3 * (A @ B) - 2 * C, A @ B + V, -(D.T @ B) + 2 * E.T]
        for mode, f in fns.items():
            for got, exp in zip(f(*args), want, strict=True):
                assert got.dtype == np.dtype(dtype) and got.shape == exp.shape, mode
                np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12, err_msg=mode)


@pytest.mark.slow
def test_gemm_gradient_and_errors():
    rng = np.random.default_rng(3)
    verify_grad(lambda a, b, c: Gemm(-0.5, 2.0)(a, b, c),
                [rng.standard_normal((3, 4)), rng.standard_normal((4, 5)),
                 rng.standard_normal((5,))], rng=rng)
    # the product broadcasts
    verify_grad(lambda a, b, c: Gemm(1.5, 1.0)(a, T.addbroadcast(b, 1), c),
                [rng.standard_normal((3, 4)), rng.standard_normal((4, 1)),
                 rng.standard_normal((3, 6))], rng=rng)
    x, w = T.dmatrices("x", "w")
    with pytest.raises(TypeError, match="dtype"):
        Gemm()(x, w, T.fvector())
    with pytest.raises(TypeError, match="more axes"):
        Gemm()(x, T.dvector(), x)
    with pytest.raises(ValueError, match="finite"):
        Gemm(np.inf, 1.0)(x, w, x)
    with pytest.raises(ValueError, match="finite"):
        Gemm(0.5, 1.0)(T.lmatrix(), T.lmatrix(), T.lmatrix())
    f = cgraph.function([x, w], Gemm(1.0, 1.0)(x, w, x))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones((3, 4)), np.ones((4, 5)))


@pytest.mark.slow
def test_exported_function_with_gemm_builds_warning_free(tmp_path):
    w = cgraph.shared(RNG.standard_normal((4, 3)), name="w")
    x, g = T.dmatrix("x"), T.dmatrix("g")
    step = cgraph.function([x, g], T.sum(T.dot(x, w) + 1.0),
                           updates=[(w, w - 0.1 * T.dot(x.T, g))])
    assert len(gemm_nodes(step)) == 2
    xs, gs = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 3))
    start = w.get_value()
    want = [float(step(xs, gs)) for _ in range(3)]
    w.set_value(start)
    folder = cgraph.export_c(step, tmp_path / "gemm", name="gemm_step")
    data = ", ".join(repr(float(v)) for v in np.concatenate([xs.ravel(), gs.ravel()]))
    out = build_exported(folder, "gemm_step", f"""
        #include <stdio.h>
        #include "gemm_step.h"
        int main(void) {{
            const double d[] = {{ {data} }};
            char err[GEMM_STEP_ERRBUF];
            gemm_step_state s;
            double total;
            if (gemm_step_init(&s)) return 1;
            for (int i = 0; i < 3; ++i) {{
                if (gemm_step_step(&s, d, d + 20, &total, err)) {{ puts(err); return 2; }}
                printf("%.17g\\n", total);
            }}
            gemm_step_free(&s);
            return 0;
        }}
    """)
    np.testing.assert_allclose(np.array(out, dtype=float), want, rtol=1e-13)


def test_two_product_updates_are_both_written_in_place():
    """A Gemm never fails, so an update's Gemm followed by another Gemm is written
    straight into its shared variable (the MLP step's W1 and W2), not computed into
    the workspace and copied."""
    w1 = cgraph.shared(sample((6, 5), "float64"), name="W1")
    w2 = cgraph.shared(sample((5, 4), "float64"), name="W2")
    x, g = T.dmatrix("x"), T.dmatrix("g")
    h = T.dot(x, w1)
    f = cgraph.function([x, g], [], updates=[(w1, w1 - 0.1 * T.dot(x.T, T.dot(g, w2.T))),
                                            (w2, w2 - 0.1 * T.dot(h.T, g))])
    assert len(gemm_nodes(f)) == 2
    storage = w1.get_value(borrow=True), w2.get_value(borrow=True)
    xs, gs = sample((3, 6), "float64"), sample((3, 4), "float64")
    a, b = w1.get_value(), w2.get_value()
    f(xs, gs)
    want1 = a - 0.1 * xs.T @ (gs @ b.T)
    want2 = b - 0.1 * (xs @ a).T @ gs
    plan = list(f._plans.values())[-1]
    assert [int(plan[0][u.inplace_slot]) for u in f._lowered.program.updates] == [1, 1]
    assert w1.get_value(borrow=True) is storage[0] and w2.get_value(borrow=True) is storage[1]
    np.testing.assert_allclose(w1.get_value(), want1, **TOLERANCE["float64"])
    np.testing.assert_allclose(w2.get_value(), want2, **TOLERANCE["float64"])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan's shadow memory does not fit a limited address space")
@pytest.mark.slow  # a child process
def test_a_packed_copy_that_cannot_be_allocated_falls_back_to_the_loop():
    """Gemm and Dot never fail (so updates before them are written in place): without
    memory for a packed copy of an operand BLAS cannot read, the loop computes the
    product."""
    # a packed copy of x[::2, ::2] (2 x k) is 48 MB
    assert_products_survive_short_memory(
        "k = 3_000_000; w_shape, x_shape, y_shape = (2, 2), (4, 2 * k), (k, 2)",
        a="x[::2, ::2]", av="xv[::2, ::2]")
