"""Neural-network ops (`cgraph.tensor.nnet`), as in theano.tensor.nnet."""

from cgraph.tensor.math import sigmoid

__all__ = ["sigmoid"]
