"""Kernel descriptions: what a node's C kernel is, as plain data, and which builder
makes it. Below the op library (which registers its builders here) and above the
graph IR; imports nothing else of cgraph."""

from cgraph.kernel.description import SCRATCH, Kernel, Operand, Statement
from cgraph.kernel.layout import (
    LayoutError,
    ParamLayout,
    Shape,
    Strides,
    contiguous_strides,
    is_dense,
    loop_strides,
)
from cgraph.kernel.registry import KernelBuilder, builder_for, builder_of, register_kernel

__all__ = ["SCRATCH", "Kernel", "KernelBuilder", "LayoutError", "Operand", "ParamLayout",
           "Shape", "Statement", "Strides", "builder_for", "builder_of", "contiguous_strides",
           "is_dense", "loop_strides", "register_kernel"]
