"""Theano's module name for random streams: `from cgraph.tensor.shared_randomstreams
import RandomStreams`."""

from cgraph.tensor.random import RandomStream, RandomStreams

__all__ = ["RandomStream", "RandomStreams"]
