"""Compiling graphs into callables: function(), shared variables, modes."""

from cgraph.compile.export import export_c
from cgraph.compile.function import Function, UnusedInputError, function
from cgraph.compile.io import In, Out
from cgraph.compile.shared import SharedVariable, shared

__all__ = ["Function", "In", "Out", "SharedVariable", "UnusedInputError", "export_c",
           "function", "shared"]
