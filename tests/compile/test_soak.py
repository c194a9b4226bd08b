"""Memory stays flat over many calls: no leak in the C (workspaces, plans) or in the
Python call path (argument wrappers, outputs)."""

from __future__ import annotations

import gc
import os
import resource

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


def rss_bytes() -> int:
    """The process's resident set size now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize()


def growth(call, n: int) -> int:
    """RSS growth over `n` calls, after a warm-up that fills caches and pools."""
    for _ in range(max(1000, n // 20)):
        call()
    gc.collect()
    before = rss_bytes()
    for _ in range(n):
        call()
    gc.collect()
    return rss_bytes() - before


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="needs /proc (Linux)")


@pytest.mark.slow
def test_xor_step_100k_calls_keep_rss_flat():
    from benchmarks.xor import INPUTS, TARGETS, tutorial_step

    cost, _ = tutorial_step(cgraph)
    k = iter(range(10**9))

    def call():
        i = next(k) % 4
        cost(INPUTS[i], TARGETS[i])  # int inputs: the converting path

    # a leak of 40 bytes a call would be 4 MB here
    assert growth(call, 100_000) < 4 * 2**20


@pytest.mark.slow
def test_megabyte_intermediates_100k_calls_keep_rss_flat():
    x = T.dvector("x")
    w = cgraph.shared(np.zeros(4), name="w")
    big = T.tile(x, 32768)                   # a 1 MB intermediate (131072 doubles)
    out = T.sum(big * big)
    f = cgraph.function([x], out, updates=[(w, w + x)])
    data = np.linspace(0, 1, 4)
    want = np.sum(np.tile(data, 32768) ** 2)
    np.testing.assert_allclose(f(data), want, rtol=1e-12)
    # a leaked workspace (1 MB) per call would be 100 GB; allow allocator noise
    assert growth(lambda: f(data), 100_000) < 8 * 2**20
