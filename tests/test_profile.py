"""Profiling: timers compiled in only on request, per-kernel calls, time and bytes."""

from __future__ import annotations

import io

import numpy as np

import cgraph
import cgraph.tensor as T


def test_profile_counts_each_kernel():
    x, m = T.dvector("x"), T.dmatrix("m")
    f = cgraph.function([x, m], T.exp(T.dot(m, x)).sum(), profile=True)
    assert "cg_tick" in f.c_source
    for _ in range(7):
        f(np.ones(50), np.ones((20, 50)))
    rows = f.profile.rows()
    assert [r["calls"] for r in rows] == [7] * len(rows)
    assert any("Dot" in r["node"] for r in rows) and all(r["seconds"] >= 0 for r in rows)
    assert abs(sum(r["share"] for r in rows) - 1) < 1e-9
    dot = next(r for r in rows if "Dot" in r["node"])
    assert f.profile.kernel_bytes[rows.index(dot)] == (50 + 20 * 50 + 20) * 8
    text = f.profile.summary(file=io.StringIO())
    assert "Dot" in text and "build:" in text and "compile" in text
    f.profile.reset()
    assert all(r["calls"] == 0 for r in f.profile.rows())


def test_no_timing_code_unless_asked():
    x = T.dvector("x")
    f = cgraph.function([x], x * 2.0)
    assert f.profile is None and "cg_tick" not in f.c_source
    saved = cgraph.config.profile
    cgraph.config.profile = "True"
    try:
        g = cgraph.function([x], x * 3.0)
    finally:
        cgraph.config.profile = saved
    g(np.ones(3))
    assert g.profile.rows()[0]["calls"] == 1
