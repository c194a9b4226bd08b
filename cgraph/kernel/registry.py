"""The kernel registry: op class -> `KernelBuilder`, the one way an op gets a C kernel.

An op family registers its builder next to its ops
(`register_kernel(SumToKernel(), SumTo)` below the op classes); the code generator
looks the builder up by the node's op class (`builder_of`, following the class's
bases) and reads from it everything it
needs to know about the kernel: how to lower a node, its plan values per call
shape, and facts the in-place and buffer-reuse rules need. Codegen knows no family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cgraph.kernel.description import Kernel, Operand
from cgraph.kernel.layout import ParamLayout

#: op class -> its builder (registered by the op's module when it is imported)
_BUILDERS: dict[type, KernelBuilder] = {}
#: op class -> the builder found through its bases (filled on first lookup)
_FOUND: dict[type, KernelBuilder | None] = {}


class KernelBuilder:
    """How nodes of some op classes become C kernels.

    Subclasses define `family` (the template's name), `params`, and `lower` or, for a
    kernel with no loops of its own, `layout` (and `context`); the other hooks have
    defaults that suit most kernels.
    """

    #: the template `templates/<family>.c.j2` (also the kernel's `family`)
    family: str = ""
    #: every element of the output is written after the same element of each input
    #: is read, and nothing else: the output may take over the buffer of an input of
    #: its layout, and an update may be written straight into the shared storage
    elementwise: bool = False
    #: the kernel never fails at run time (no error return but out of memory): a
    #: failed call cannot have happened after it, so updates may be written in place
    #: before it
    cannot_fail: bool = False

    def lower(self, node: Any, name: str, comment: str, outs: list[Operand],
              ins: list[Operand]) -> Kernel:
        """The kernel of `node`: `name` is its C name, `comment` the text of its C
        comment, `outs` and `ins` the `Operand` of each output and input. Its layout
        (`cgraph.kernel.ParamLayout`) is sized from static facts only.

        The default makes the kernel from `layout(node)` and `context(node, outs,
        ins)`; a kernel with loops (`ndim`) or statements defines its own."""
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), self.layout(node),
                      context=self.context(node, outs, ins))

    def layout(self, node: Any) -> ParamLayout:
        """The kernel's plan slots (for the default `lower`)."""
        raise NotImplementedError(f"{type(self).__name__} defines no lower (nor layout)")

    def context(self, node: Any, outs: list[Operand], ins: list[Operand]) -> dict[str, Any]:
        """The template's family-specific data, `k.context` (for the default `lower`)."""
        return {}

    def params(self, kernel: Kernel, node: Any, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> Sequence[int]:
        """The integers `kernel` reads from its plan slots for one call's shapes:
        `kernel.layout.build(...)`. `out_layouts` and `in_layouts` are (shape, element
        strides) pairs; `values` holds arrays at the op's `value_inputs` (else None).
        Raises ValueError when the shapes do not fit."""
        raise NotImplementedError(f"{type(self).__name__} defines no params")

    def writes_in_place(self, node: Any, shared: Any) -> bool:
        """Whether the kernel may write its output over the input `shared` (a shared
        variable it reads) and still compute the right values."""
        return self.elementwise

    def check_sizes(self, node: Any, in_shapes: list) -> None:
        """Raise ValueError if a call's shapes need a temporary array past numpy's
        size limit besides the outputs (the planner checks those)."""

    def scratch(self, node: Any, in_shapes: list, out_shapes: list) -> int:
        """The bytes of scratch memory one call of the kernel needs for these input and
        output shapes (a Python int, never wrapped), 0 for none. The planner reserves them in
        the function's workspace, alive during this kernel only, and writes their
        offset into the layout's field `scratch` (`cgraph.kernel.SCRATCH`, one slot,
        built as 0 by `params`); the kernel then gets the workspace as `ws` and finds
        its block at `ws + p[{{ p.scratch }}]`."""
        return 0

    def sites(self, node: Any) -> Sequence[str]:
        """Where the user built what the node computes (`net.py:12`), when the node
        was made by a rewrite from several nodes (a fused loop); () otherwise."""
        return ()


def register_kernel(builder: KernelBuilder, *op_classes: type) -> KernelBuilder:
    """Make `builder` the kernel builder of each op class (and of their subclasses that
    register none of their own); returns it. A class registers one builder."""
    for cls in op_classes:
        if cls in _BUILDERS:
            raise ValueError(f"{cls.__qualname__} already has the kernel builder "
                             f"{type(_BUILDERS[cls]).__name__}")
        _BUILDERS[cls] = builder
    _FOUND.clear()
    return builder


def builder_for(cls: type) -> KernelBuilder | None:
    """The builder registered for op class `cls` or its nearest base; None if none."""
    if cls not in _FOUND:
        _FOUND[cls] = next((_BUILDERS[c] for c in cls.__mro__ if c in _BUILDERS), None)
    return _FOUND[cls]


def builder_of(op: Any) -> KernelBuilder:
    """The builder of `op`'s class (or of its nearest base that has one).

    Raises NotImplementedError naming the op when there is none: such an op runs in
    mode "PY" only.
    """
    found = builder_for(type(op))
    if found is None:
        raise NotImplementedError(
            f"{type(op).__name__} has no C implementation: no kernel builder is registered "
            "for its class (cgraph.kernel.register_kernel); compile with mode='PY'")
    return found
