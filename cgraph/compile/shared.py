"""Shared variables, where the compile layer and old pickles find them: the class and
`shared` live in `cgraph/tensor/sharedvar.py` (a tensor with storage is a tensor-level
idea; the random streams of `tensor/` make them too)."""

from cgraph.tensor.sharedvar import SharedVariable, shared

__all__ = ["SharedVariable", "shared"]
