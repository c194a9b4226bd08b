"""A function containing scans is the same C in every process: a disk-cache hit."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from helpers import run_json_child

import cgraph
import cgraph.tensor as T

CHILD = textwrap.dedent("""
    import hashlib, json
    import numpy as np
    import cgraph, cgraph.tensor as T
    from cgraph import backend

    x = T.dvector("x")
    w = cgraph.shared(np.float64(0.5), name="w")
    ys, _ = cgraph.scan(lambda v, h: T.tanh(v * w + h), sequences=[x],
                        outputs_info=[T.zeros(())])
    zs, _ = cgraph.scan(lambda v: v * 2.0 + 1.0, sequences=[ys])
    cost = T.sum(zs ** 2)
    f = cgraph.function([x], [cost, cgraph.grad(cost, x)])
    value = [np.asarray(v).tolist() for v in f([0.1, 0.2, 0.3])]
    s = backend.stats
    print(json.dumps({"compiles": s.compiles, "disk_hits": s.disk_hits, "value": value,
                      "sha": hashlib.sha256(f.c_source.encode()).hexdigest()}))
""")


def run_child(cache) -> dict:
    return run_json_child(CHILD, cache, timeout=600)


@pytest.mark.slow
def test_a_function_with_scans_loads_from_the_cache_in_a_new_process(tmp_path):
    first = run_child(tmp_path)
    second = run_child(tmp_path)
    assert first["compiles"] >= 1
    assert second["compiles"] == 0 and second["disk_hits"] >= 1
    assert second["sha"] == first["sha"] and second["value"] == first["value"]


def test_two_different_scans_in_one_function_get_their_own_names():
    """Same shapes, different steps: two programs, two names, numpy's values."""
    x = T.dvector("x")
    a, _ = cgraph.scan(lambda v, h: h + v, sequences=[x], outputs_info=[T.zeros(())])
    b, _ = cgraph.scan(lambda v, h: h * 0.5 + v, sequences=[x], outputs_info=[T.zeros(())])
    f = cgraph.function([x], [a, b])
    xv = np.array([1.0, 2.0, 3.0])
    got_a, got_b = f(xv)
    np.testing.assert_allclose(got_a, np.cumsum(xv))
    want_b, h = [], 0.0
    for v in xv:
        h = h * 0.5 + v
        want_b.append(h)
    np.testing.assert_allclose(got_b, want_b)
    entries = {line.split("_body(")[0].split()[-1] for line in f.c_source.splitlines()
               if "_body(const int64_t" in line}
    assert len(entries) == 3  # the function's own body and one per scan
