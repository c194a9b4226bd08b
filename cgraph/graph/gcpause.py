"""Python's cycle collector paused while a function compiles, a gradient is built or a
call is planned.

Building a function makes and drops many small objects (nodes, kernels, layouts,
template contexts) in a graph of tens of thousands of live ones, so the collector's
full passes ran again and again over the whole graph: 15-25% of the Python time of a
3,600-node training step (the residual chain at N = 400, measured with cProfile and
by `gc.disable()`). Nothing cyclic that compiling makes needs collecting before it
ends; the collector runs as usual afterwards.

`grad` and the first call's plan (`CompiledModule.make_plan`) are paused too: each full
pass costs the whole live graph, so their time grew faster than the graph (the
residual chain from 1,000 to 4,000 layers: grad 0.50 -> 1.32 s with the collector off,
0.66 -> 3.0 s with it on; the first call's plan 0.25 -> 2.1 s off, 0.80 -> 5.7 s on).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def gc_paused(func: F) -> F:
    """Run `func` with the cycle collector off (and back on after, if it was on)."""

    @functools.wraps(func)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return paused  # type: ignore[return-value]
