"""`assert_modes_agree`: a graph compiled to C against the numpy reference, in a test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.compile.debugmode import TOLERANCES, DebugModeError
from cgraph.compile.function import Function, function
from cgraph.graph.basic import Variable

__all__ = ["assert_modes_agree"]


def assert_modes_agree(inputs: Sequence[Variable], outputs: Any, *args: Any,
                       updates: Any = None, givens: Any = None, rtol: float | None = None,
                       atol: float | None = None) -> None:
    """Compile `outputs` (and `updates`) as a function of `inputs` in C and in the numpy
    reference (mode "PY", the graph before rewrites), call both on `args` from the same
    shared values, and raise AssertionError on the first output or update that differs.

    The message names the output or the updated shared variable and both values, and,
    from a call in mode "DebugMode", the first node whose value departs from the
    reference (its ``[id]`` in `debugprint`, its op and the user's line). Shared
    variables keep the values they had: the updates are compared, not applied.

    Parameters
    ----------
    inputs, outputs, updates, givens
        As for `cgraph.function` (the graph, not a compiled function: a compiled
        function no longer holds the graph as built, which the reference runs).
    *args
        The arguments of the call.
    rtol, atol : float, optional
        The tolerance for float values (default: DebugMode's per dtype: 1e-5 and 1e-8
        for float64, 1e-5 and 1e-5 for float32). Integers and booleans must be equal;
        NaN equals NaN.
    """
    if isinstance(inputs, Function):
        raise TypeError("assert_modes_agree takes the graph (inputs, outputs, updates=...), "
                        "not a compiled function: the reference runs the graph as built, "
                        "before the rewrites that a compiled function applied")
    compiled = function(inputs, outputs, updates=updates, givens=givens, mode="C")
    reference = function(inputs, outputs, updates=updates, givens=givens, mode="PY")
    shared = list(compiled.signature.shared)
    targets = list(compiled.signature.updates)
    saved = [s.get_value(borrow=False) for s in shared]

    def run(f: Function) -> list[Any]:
        try:
            result = f(*args)
            results = list(result) if isinstance(result, list) else [result]
            return results + [t.get_value(borrow=False) for t in targets]
        finally:
            for s, value in zip(shared, saved):
                s.set_value(value.copy() if isinstance(value, np.ndarray) else value)

    got, want = run(compiled), run(reference)
    n_out = len(got) - len(targets)
    names = [f"output {k}" for k in range(n_out)] + [
        f"the update of {t.name if t.name else repr(t)}" for t in targets]
    for name, have, expected in zip(names, got, want):
        problem = _difference(np.asarray(expected), np.asarray(have), rtol, atol)
        if problem:
            raise AssertionError(f"modes C and PY disagree on {name}: {problem}"
                                 + _where(inputs, outputs, updates, givens, run))


def _difference(want: np.ndarray, have: np.ndarray, rtol: float | None,
                atol: float | None) -> str:
    """What differs between the reference value and the C one, or "" if they agree."""
    if want.shape != have.shape or want.dtype != have.dtype:
        return (f"the reference gives {want.dtype}{list(want.shape)}, the C "
                f"{have.dtype}{list(have.shape)}")
    if want.dtype.kind in "fc":
        r, a = TOLERANCES.get(want.dtype, (1e-5, 1e-8))
        with np.errstate(all="ignore"):
            close = np.isclose(have, want, rtol=r if rtol is None else rtol,
                               atol=a if atol is None else atol, equal_nan=True)
    else:
        close = have == want
    if np.all(close):
        return ""
    bad = np.argwhere(~np.asarray(close))
    at = tuple(int(i) for i in bad[0])
    return (f"at index {at}, the reference gives {want[at].item()!r} and the C "
            f"{have[at].item()!r} "
            f"({len(bad)} of {want.size} elements differ)")


def _where(inputs: Any, outputs: Any, updates: Any, givens: Any, run: Any) -> str:
    """DebugMode's account of where the C departs from the reference, or ""."""
    debug = function(inputs, outputs, updates=updates, givens=givens, mode="DebugMode")
    try:
        run(debug)
    except DebugModeError as err:
        return f"\n{err}"
    return ("\n(DebugMode's tolerances accept this difference: only the tolerance given "
            "here rejects it)")
