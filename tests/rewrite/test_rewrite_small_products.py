"""Small products made elementwise by `specialize`: an outer product `dot(col, row)`
(inner length statically 1) becomes `col * row`, and the transpose of a product read
once becomes the product of transposed views, so that fusion takes both into the loop
that reads them (the XOR step's weight updates). Results equal the unrewritten graph's.
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor.blas import Dot

RNG = np.random.default_rng(19)


def families(f: cgraph.Function) -> list[str]:
    return [s.kernel.family for s in f._lowered.program.steps]


def both(inputs, outputs, **kwargs):
    with cgraph.config.change_flags(optimizer="None"):
        plain = cgraph.function(inputs, outputs, **kwargs)
    return plain, cgraph.function(inputs, outputs, **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_outer_product_update_is_one_loop(dtype):
    u, v = T.vector("u", dtype=dtype), T.vector("v", dtype=dtype)
    w = T.matrix("w", dtype=dtype)
    out = w - 0.1 * T.dot(u.dimshuffle(0, "x"), v.dimshuffle("x", 0)).T
    plain, fused = both([u, v, w], out)
    assert families(fused) == ["elementwise"]
    assert not any(isinstance(n.op, Dot) for n in fused.fgraph.toposort())
    args = [RNG.standard_normal(n).astype(dtype) for n in (3, 4)]
    args.append(RNG.standard_normal((4, 3)).astype(dtype))
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12, atol=0)
    np.testing.assert_allclose(fused(*args), args[2] - np.asarray(0.1, dtype)
                               * np.outer(args[0], args[1]).T, rtol=1e-6)
    empty = [np.zeros(0, dtype), np.zeros(4, dtype), np.zeros((4, 0), dtype)]
    assert fused(*empty).shape == (4, 0)


def test_outer_product_read_twice_and_as_output():
    c, r = T.dcol("c"), T.drow("r")
    p = T.dot(c, r)
    outs = [p, T.exp(p) + p.T.T]
    plain, fused = both([c, r], outs)
    assert not any(isinstance(n.op, Dot) for n in fused.fgraph.toposort())
    args = [RNG.standard_normal((5, 1)), RNG.standard_normal((1, 2))]
    for got, want in zip(fused(*args), plain(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_products_that_stay_products():
    # An inner length not known to be 1 keeps the Dot (a length 1 at run time too).
    a, b = T.dmatrices("a", "b")
    plain, fused = both([a, b], T.dot(a, b) * 2)
    assert any(isinstance(n.op, Dot) for n in fused.fgraph.toposort())
    args = [RNG.standard_normal((3, 1)), RNG.standard_normal((1, 4))]
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12)
    # A transposed product read twice is not split: it is stored once.
    x, y = T.dmatrices("x", "y")
    m = x * y
    outs = [m.T + 1, m * 3]
    plain, fused = both([x, y], outs)
    args = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))]
    for got, want in zip(fused(*args), plain(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_transposed_product_fuses_with_shapes_checked():
    x, y, z = T.dmatrices("x", "y", "z")
    out = (x * y).T + z
    plain, fused = both([x, y, z], out)
    assert families(fused) == ["elementwise"]
    args = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)),
            RNG.standard_normal((3, 2))]
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12, atol=0)
    with pytest.raises(ValueError):
        fused(args[0], args[1], RNG.standard_normal((2, 3)))


def test_outer_products_summed_stay_products():
    """A gradient summing one outer product per layer keeps them products: the gemm rules
    accumulate them (one shared kernel a term). As multiplies they fused into one loop
    reading two operands a term (a 50-layer chain's module: 110 -> 192 kB of C)."""
    cols = [T.dcol(f"c{i}") for i in range(6)]
    rows = [T.drow(f"r{i}") for i in range(6)]
    total = T.dot(cols[0], rows[0])
    for c, r in zip(cols[1:], rows[1:]):
        total = total + T.dot(c, r)
    plain, fused = both(cols + rows, total)
    kinds = families(fused)
    # (the first term, the gemm's initial value, may be a multiply: one loop at most)
    assert kinds.count("dot_add") == 5 and kinds.count("elementwise") <= 1
    args = [RNG.standard_normal((4, 1)) for _ in cols] + [RNG.standard_normal((1, 3))
                                                         for _ in rows]
    want = sum(np.outer(c, r) for c, r in zip(args[:6], args[6:]))
    np.testing.assert_allclose(fused(*args), want, rtol=1e-12)
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12)
