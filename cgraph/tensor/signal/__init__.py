"""Theano's `theano.tensor.signal`: `pool` (2-D pooling, cgraph/tensor/pool.py)."""

from cgraph.tensor.signal import pool

__all__ = ["pool"]
