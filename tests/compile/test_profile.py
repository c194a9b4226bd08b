"""Profiling: timers compiled in only on request, per-kernel calls, time and bytes."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.ifelse import ifelse


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


def test_summary_sums_to_about_the_measured_call_time():
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(T.sin(x)) * 2.0 + T.sum(T.cos(x)), profile=True)
    big = np.random.default_rng(0).random(2_000_000)
    f(big)
    f.profile.reset()
    started = time.perf_counter()
    for _ in range(8):
        f(big)
    wall = time.perf_counter() - started
    rows = f.profile.rows()
    total = sum(r["seconds"] for r in rows)
    assert total == pytest.approx(f.profile.total_seconds)
    # Kernels are almost all of a call on 2e6 elements; they cannot exceed it.
    assert 0.6 * wall < total <= wall
    text = f.profile.summary(file=io.StringIO())
    assert f"total in kernels: {total:.6f} s" in text
    assert "over 8 calls" in text
    for r in rows:  # bytes moved per call and the rate they give
        assert r["bytes"] > 0 and r["gbps"] == pytest.approx(r["bytes"] * 8 / r["seconds"] / 1e9)


def test_matrix_products_report_gflops():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    # The product (its exp runs in the same kernel: a Gemm epilogue) and a loop apart.
    f = cgraph.function([a, b], [T.exp(T.dot(a, b) + 1.0), a * 2.5], profile=True)
    f(np.ones((30, 40)), np.ones((40, 50)))
    rows = f.profile.rows()
    dot = next(r for r in rows if "Gemm" in r["node"] or "Dot" in r["node"])
    assert dot["flops"] == 2 * 30 * 40 * 50 and dot["gflops"] > 0
    assert all(r["flops"] == 0 for r in rows if r is not dot)
    text = f.profile.summary(file=io.StringIO())
    assert "GFLOP/s" in text and "GB/s" in text


def test_compile_profile_covers_every_stage():
    x = T.dvector("x")
    out = T.exp(x) * 13.75
    first = cgraph.function([x], out, profile=True)
    times = first.profile.compile_times
    assert list(times) == ["rewrite", "lower", "render", "compile", "load"]
    assert times["compile"] > 0 and all(v >= 0 for v in times.values())
    again = cgraph.function([x], out, profile=True)  # the same module: no compile
    assert again.profile.compile_times["compile"] == 0
    assert "rewrite" in again.profile.summary(file=io.StringIO())


def test_kernel_comments_carry_the_debugprint_ids():
    x, m = T.dvector("x"), T.dmatrix("m")
    f = cgraph.function([x, m], T.exp(T.dot(m, x)).sum(), profile=True)
    f(np.ones(3), np.ones((2, 3)))
    tree = cgraph.debugprint(f, file="str")
    for r in f.profile.rows():
        label = r["node"].split("[id ")[1].split("]")[0]
        assert f"[id {label}]" in tree and "test_profile.py:" in r["node"]


def test_skipped_branches_keep_bytes_aligned_with_kernels():
    x = T.dvector("x")
    f = cgraph.function([x], ifelse(T.gt(x.sum(), 0), T.exp(x), T.log(x)) * 2.0, profile=True)
    f(np.ones(4))
    assert len(f.profile.kernel_bytes) == len(f.profile.kernels)
    rows = f.profile.rows()
    assert all(r["bytes"] > 0 for r in rows if r["calls"])
    skipped = [r for r in rows if not r["calls"]]
    assert skipped and all(r["bytes"] == 0 for r in skipped)  # log(x): not computed
