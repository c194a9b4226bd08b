"""`cgraph.tensor.special` (as pytensor.tensor.special): softmax, log_softmax, softplus,
logsumexp and the other nnet functions."""

from cgraph.tensor.nnet import (
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
)
from cgraph.tensor.reductions import logsumexp

__all__ = ["binary_crossentropy", "categorical_crossentropy", "elu", "log_softmax",
           "logsumexp", "relu", "sigmoid", "softmax", "softplus"]
