"""Theano's `sandbox.rng_mrg.MRG_RandomStreams`, on cgraph's random streams.

The numbers come from cgraph's generator (Philox4x32-10, drawn in C), not from
Theano's MRG31k3p: the same seed gives other numbers than Theano, with the same
distributions. `nstreams` is accepted and ignored (every draw is one stream).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cgraph.tensor as T
from cgraph.tensor.random import RandomStreams
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStreams):  # noqa: N801  (Theano's name)
    """`MRG_RandomStreams(seed=12345)`: `uniform`, `normal`, `binomial` (a symbolic
    `p` too, e.g. an RBM's Gibbs step `binomial(size=h.shape, n=1, p=h)`) and
    `multinomial` (one draw per row of `pvals`), with Theano's signatures."""

    def __init__(self, seed: int = 12345):
        super().__init__(seed)

    def uniform(self, size: Any = (), low: Any = 0.0, high: Any = 1.0,
                ndim: int | None = None, dtype: Any = None, nstreams: Any = None,
                **kwargs: Any) -> TensorVariable:
        """Uniform on [low, high), of dtype `dtype` (default floatX)."""
        return super().uniform(size, low, high, dtype=dtype)

    def normal(self, size: Any = (), avg: Any = 0.0, std: Any = 1.0,
               ndim: int | None = None, dtype: Any = None, nstreams: Any = None,
               truncate: bool = False, **kwargs: Any) -> TensorVariable:
        """Normal with mean `avg` and standard deviation `std`."""
        if truncate:
            raise NotImplementedError("MRG_RandomStreams.normal(truncate=True) is not "
                                      "supported")
        return super().normal(size, avg, std, dtype=dtype)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5,
                 ndim: int | None = None, dtype: Any = "int64", nstreams: Any = None,
                 **kwargs: Any) -> TensorVariable:
        """Successes in `n` trials of probability `p` (`size` defaults to p's shape).

        With n=1, as Theano's MRG does: `uniform(size) < p`, cast to `dtype`, so `p`
        may be any tensor that broadcasts to `size` (the draw has no gradient).
        """
        p = as_tensor_variable(p)
        if size is None:
            size = p.shape
        if isinstance(n, (int, np.integer)) and n == 1:
            u = self.uniform(size, dtype=p.dtype if p.dtype.startswith("float") else None)
            return T.cast(T.lt(u, p), dtype)
        return super().binomial(size, n, p, dtype=dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None,
                    ndim: int | None = None, dtype: Any = "int64", nstreams: Any = None,
                    **kwargs: Any) -> TensorVariable:
        """One draw per row of the matrix `pvals` (n=1): a row of zeros with a 1 at the
        category drawn, the matrix of `dtype` shaped as `pvals`.

        Category k is drawn when the cumulative sum of the row up to k first exceeds a
        uniform number, as in Theano; a row summing to less than 1 gives its last
        category for the missing mass.
        """
        if pvals is None:
            raise TypeError("multinomial: pvals (a matrix of probabilities) is required")
        if not (isinstance(n, (int, np.integer)) and n == 1):
            raise NotImplementedError("MRG_RandomStreams.multinomial: only n=1")
        pvals = as_tensor_variable(pvals)
        if pvals.ndim != 2:
            raise TypeError(f"multinomial: pvals must be a matrix, got {pvals.type}")
        rows, k = pvals.shape[0], pvals.shape[1]
        u = self.uniform((rows,) if size is None else size,
                         dtype=pvals.dtype if pvals.dtype.startswith("float") else None)
        cumulative = T.cumsum(pvals, axis=1)
        below = T.sum(T.le(cumulative, u.dimshuffle(0, "x")), axis=1)
        chosen = T.minimum(below, k - 1)
        return T.cast(T.eq(T.arange(k).dimshuffle("x", 0), chosen.dimshuffle(0, "x")), dtype)
