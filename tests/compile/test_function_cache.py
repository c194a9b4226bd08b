"""A compiled function across processes: same C bytes, no second compile; compile errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import run_json_child

import cgraph
import cgraph.tensor as T
from cgraph.backend import CompileError
from cgraph.tensor.elemwise import Elemwise, ScalarOp

# Builds the tutorial's XOR cost function and reports what the backend did.
CHILD = textwrap.dedent("""
    import hashlib, json, re
    import numpy as np
    import cgraph, cgraph.tensor as T, cgraph.tensor.nnet as nnet
    from cgraph import backend

    x, y = T.dvector(), T.dscalar()
    def layer(x, w):
        b = np.array([1], dtype=cgraph.config.floatX)
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, b])))
    theta1 = cgraph.shared(np.full((3, 3), 0.5))
    theta2 = cgraph.shared(np.full((4, 1), 0.25))
    out1 = T.sum(layer(layer(x, theta1), theta2))
    fc = (out1 - y) ** 2
    cost = cgraph.function([x, y], fc, updates=[
        (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
        (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])
    value = float(cost([0, 1], 1))
    s = backend.stats
    rendered = cost._c_source is not None  # before c_source reads the cached file
    print(json.dumps({"rendered": rendered, "compiles": s.compiles, "disk_hits": s.disk_hits,
                      "sha": hashlib.sha256(cost.c_source.encode()).hexdigest(),
                      "sites": sorted({int(n) for n in
                                       re.findall(r"at <string>:(\\d+)", cost.c_source)}),
                      "value": value}))
""")


def run_child(cache: Path, script: str = CHILD) -> dict:
    return run_json_child(script, cache)


@pytest.mark.slow
def test_second_process_loads_from_cache_and_generates_same_bytes(tmp_path):
    first = run_child(tmp_path)
    second = run_child(tmp_path)
    assert first["compiles"] >= 1
    assert second["compiles"] == 0 and second["disk_hits"] == first["compiles"]
    assert first["rendered"] and not second["rendered"]  # warm: found by the program index
    assert second["sha"] == first["sha"]
    assert second["value"] == first["value"]


@pytest.mark.slow
def test_same_graph_on_other_lines_is_not_compiled_again(tmp_path):
    """The user's line numbers are in the C's comments but not in the cache key: code
    that moved (here three lines down) finds the module built before it moved, and
    its `c_source` names its own lines."""
    first = run_child(tmp_path)
    moved = run_child(tmp_path, "\n\n\n" + CHILD)
    assert first["compiles"] >= 1 and moved["compiles"] == 0
    assert moved["value"] == first["value"]
    assert first["sites"] and moved["sites"] == [n + 3 for n in first["sites"]]


def test_compile_error_shows_compiler_message_and_c_path():
    x = T.dvector("x")
    saved = cgraph.config.cflags
    # A missing file after -include: gcc fails before any code is generated.
    cgraph.config.cflags = saved + " -include cgraph_no_such_header.h"
    try:
        with pytest.raises(CompileError) as info:
            cgraph.function([x], T.exp(x) * 3.5)
    finally:
        cgraph.config.cflags = saved
    err = info.value
    text = str(err)
    assert "cgraph_no_such_header.h" in err.stderr and "cgraph_no_such_header.h" in text
    assert err.c_path in text and Path(err.c_path).is_file()
    assert "cg_" in Path(err.c_path).read_text()  # the generated C is kept for reading


def test_compile_error_names_the_kernel_and_the_users_line():
    broken = Elemwise(ScalarOp("broken_op", 1, "({0} +* 2)", lambda a: a, lambda d: d[0]))
    x = T.dvector("x")
    out = broken(x) * 2.0
    with pytest.raises(CompileError) as info:
        cgraph.function([x], out, mode="C")
    text = str(info.value)
    assert "in the kernel of" in text and "broken_op" in text
    assert "test_function_cache.py:" in text  # the user's line (of the node, or of fusion)
