"""Theano's module name: `from cgraph.ifelse import ifelse`."""

from cgraph.tensor.ifelse import IfElse, ifelse

__all__ = ["IfElse", "ifelse"]
