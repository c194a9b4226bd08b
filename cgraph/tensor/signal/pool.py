"""Theano's module path `theano.tensor.signal.pool`: `pool_2d` and the pooling ops,
defined in cgraph/tensor/pool.py."""

from cgraph.tensor.pool import (
    AveragePoolGrad,
    DownsampleFactorMaxGradGrad,
    MaxPoolGrad,
    Pool,
    pool_2d,
)

__all__ = ["AveragePoolGrad", "DownsampleFactorMaxGradGrad", "MaxPoolGrad", "Pool",
           "pool_2d"]
