"""Random streams: draws made in C by the Philox4x32-10 counter-based generator.

`RandomStreams` (Theano's `shared_randomstreams`) and `RandomStream` (PyTensor's
spelling, parameters first) draw in C with the same generator; mode "PY" draws the
same numbers with numpy. See `cgraph.tensor.random.streams` for the generator and the
Theano draws.
"""

from cgraph.tensor.random.stream import RandomStream
from cgraph.tensor.random.streams import (
    BinomialArrayDraw,
    RandomDraw,
    RandomKernel,
    RandomStreams,
    _binomial,  # noqa: F401  (tests/programs/tutorial_numpy.py reads it)
    _u01,  # noqa: F401
    philox,
)
from cgraph.tensor.random.variable import DISTS, RandomVariable

__all__ = ["BinomialArrayDraw", "RandomDraw", "RandomKernel", "RandomStream",
           "RandomStreams", "RandomVariable", "DISTS", "philox"]
