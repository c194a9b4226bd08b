"""Module paths Theano programs import (#16): sandbox.rng_mrg.MRG_RandomStreams,
tensor.xlogx, printing.pp, the scalar module, as `import cgraph as theano` spells them."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph as theano
import cgraph.tensor as T


@pytest.mark.parametrize("mode", MODES)
def test_mrg_random_streams(mode):
    from cgraph.sandbox.rng_mrg import MRG_RandomStreams

    rng = MRG_RandomStreams(seed=1234)
    p, pvals = T.dmatrix("p"), T.dmatrix("pvals")
    h = rng.binomial(size=p.shape, n=1, p=p, dtype="float64")  # an RBM's Gibbs sample
    default_size = rng.binomial(p=p)
    draw = rng.multinomial(pvals=pvals)
    u = rng.uniform((500, 4), low=2.0, high=3.0, dtype="float64")
    z = rng.normal((4000,), avg=1.0, std=2.0, dtype="float64", nstreams=8)
    f = theano.function([p, pvals], [h, default_size, draw, u, z], mode=mode)
    probs = np.tile([0.0, 1.0, 0.3], (4000, 1))
    rows = np.tile([0.2, 0.5, 0.3], (4000, 1))
    hs, ds, ms, us, zs = f(probs, rows)
    assert hs.dtype == np.float64 and hs.shape == probs.shape
    assert ds.dtype == np.int64 and ds.shape == probs.shape
    assert set(np.unique(hs)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hs[:, :2], probs[:, :2])  # p = 0 and p = 1 are sure
    assert abs(hs[:, 2].mean() - 0.3) < 0.03 and abs(ds[:, 2].mean() - 0.3) < 0.03
    assert ms.dtype == np.int64 and ms.shape == rows.shape
    np.testing.assert_array_equal(ms.sum(axis=1), np.ones(4000))  # one category per row
    np.testing.assert_allclose(ms.mean(axis=0), [0.2, 0.5, 0.3], atol=0.03)
    assert 2.0 <= us.min() and us.max() < 3.0
    assert abs(zs.mean() - 1.0) < 0.1 and abs(zs.std() - 2.0) < 0.1
    again = f(probs, rows)
    assert not np.array_equal(again[0], hs)  # the streams advance
    with pytest.raises(NotImplementedError, match="only n=1"):
        rng.multinomial(pvals=pvals, n=2)


def test_mrg_streams_give_the_same_numbers_in_both_modes():
    from cgraph.sandbox.rng_mrg import MRG_RandomStreams

    def draws(mode):
        rng = MRG_RandomStreams(seed=99)
        p = T.dvector("p")
        f = theano.function([p], [rng.binomial(n=1, p=p), rng.uniform((5,))], mode=mode)
        return f(np.linspace(0.0, 1.0, 7))

    for c, py in zip(draws("C"), draws("PY")):
        np.testing.assert_array_equal(c, py)


def test_theano_module_paths():
    from cgraph.printing import Print, pp
    from cgraph.tensor.xlogx import xlogx, xlogy0

    x = T.dvector("x")
    assert pp(T.exp(x) * 2) == theano.pprint(T.exp(x) * 2)
    assert pp(Print("m")(x) + 1).endswith("(x) + 1")
    assert T.xlogx.xlogx is xlogx and T.xlogx.xlogy0 is xlogy0
    f = theano.function([x], xlogx(x))
    np.testing.assert_allclose(f(np.array([0.0, 2.0])), [0.0, 2.0 * np.log(2.0)], rtol=1e-15)
