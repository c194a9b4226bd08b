"""Lowering a rewritten graph to kernel descriptions, plans, and C text (no compiler here)."""

from cgraph.codegen.lower import Lowered, Program, lower
from cgraph.codegen.plan import Plan, ShapeError, make_plan
from cgraph.codegen.render import cdef, header_paths, render

__all__ = ["Lowered", "Plan", "Program", "ShapeError", "cdef", "header_paths", "lower",
           "make_plan", "render"]
