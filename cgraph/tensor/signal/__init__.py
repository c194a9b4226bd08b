"""Theano's `theano.tensor.signal`: `pool` (2-D pooling, cgraph/tensor/pool.py), and
PyTensor's `convolve1d` / `convolve2d` (`conv`, over conv2d)."""

from cgraph.tensor.signal import conv, pool
from cgraph.tensor.signal.conv import convolve1d, convolve2d

__all__ = ["conv", "convolve1d", "convolve2d", "pool"]
