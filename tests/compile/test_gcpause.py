"""`function()` compiles with the cycle collector paused and leaves it as it found it,
also when compiling fails."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.gcpause import gc_paused


def test_collector_is_off_inside_and_back_on_after():
    seen = []

    @gc_paused
    def probe():
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="boom"):
        probe()
    assert seen == [False] and gc.isenabled()


def test_function_keeps_a_disabled_collector_disabled():
    x = T.dvector("x")
    gc.disable()
    try:
        f = cgraph.function([x], T.exp(x).sum(), mode="PY")
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert f(np.zeros(3)) == 3.0


def test_function_restores_the_collector_after_a_failed_compile():
    x = T.dvector("x")
    with pytest.raises(ValueError):
        cgraph.function([x], T.dvector("unbound") + x, mode="PY")
    assert gc.isenabled()
