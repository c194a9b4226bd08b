"""Compiling graphs into callables: function(), shared variables, modes.

`Function` is the callable; its `signature` (`Signature`, one `ArgSpec` per input)
says how arguments are checked and results returned, and in mode "C" its `compiled`
(`CompiledModule`) holds the native module, its entry points and its call plans.
"""

from cgraph.compile import variable_eval as _variable_eval  # noqa: F401  (attaches x.eval)
from cgraph.compile.compiled import CallPlan, CompiledModule
from cgraph.compile.export import export_c
from cgraph.compile.function import Function, UnusedInputError, function
from cgraph.compile.io import In, Out
from cgraph.compile.shared import SharedVariable, shared
from cgraph.compile.signature import ArgSpec, Signature

__all__ = ["ArgSpec", "CallPlan", "CompiledModule", "Function", "In", "Out", "SharedVariable",
           "Signature", "UnusedInputError", "export_c", "function", "shared"]
