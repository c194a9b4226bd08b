"""`cgraph.tensor.special` (as pytensor.tensor.special): softmax, log_softmax, softplus,
logsumexp and the other nnet functions, and the special functions of
`cgraph.tensor.special_math` (gamma, betainc, erfinv, ...: table rows computed in C by
csrc/cg_special.h). As in PyTensor, `softmax` of a vector is a
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
from cgraph.tensor.special_math import *  # noqa: F403
from cgraph.tensor.special_math import __all__ as _special_names

__all__ = ["binary_crossentropy", "categorical_crossentropy", "elu", "log_softmax",
           "logsumexp", "relu", "sigmoid", "softmax",
           *sorted(set(_special_names) - {"softplus"}), "softplus"]
