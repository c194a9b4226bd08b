"""Compiling graphs into callables: function(), shared variables, modes."""

from cgraph.compile.function import Function, UnusedInputError, function
from cgraph.compile.shared import SharedVariable, shared

__all__ = ["Function", "SharedVariable", "UnusedInputError", "function", "shared"]
