"""`cgraph.tensor.special` (as pytensor.tensor.special): softmax, log_softmax, softplus,
logsumexp and the other nnet functions. As in PyTensor, `softmax` of a vector is a
vector (`cgraph.tensor.nnet.softmax`, Theano's, makes it a (1, n) row)."""

from cgraph.tensor.nnet import (
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    log_softmax,
    relu,
    sigmoid,
    softplus,
)
from cgraph.tensor.nnet import softmax_keep_rank as softmax
from cgraph.tensor.reductions import logsumexp

__all__ = ["binary_crossentropy", "categorical_crossentropy", "elu", "log_softmax",
           "logsumexp", "relu", "sigmoid", "softmax", "softplus"]
