"""What the code generator reads from a program's kernels as a whole.

The kernels themselves are built by the op families (`cgraph.kernel` registry: each
op module registers the `KernelBuilder` of its ops); codegen knows no family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def uses_blas(steps: Sequence[Any]) -> bool:
    """Whether a program's steps call BLAS (a kernel says so with a true
    `context["blas"]`, the cblas prefix it calls), so that its module must link it."""
    return any(s.kernel.context.get("blas") for s in steps)
