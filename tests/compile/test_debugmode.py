"""Mode "DebugMode": the C against the numpy reference of the graph before rewrites, on
every call, naming the first rewritten node that disagrees; mode "PY" as the oracle
of the rewrites; Theano's mode names."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import reference

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph.compile.debugmode import DebugModeError, agree
from cgraph.graph.labels import node_labels
from cgraph.printing import debugprint
from cgraph.rewrite import pipeline
from cgraph.rewrite.driver import Rule, RuleTable
from cgraph.tensor.elemwise import Elemwise


def _line_of(text: str) -> int:
    with open(__file__) as source:
        return next(i for i, line in enumerate(source, 1) if text in line)


@pytest.fixture
def broken_rewrite(monkeypatch):
    """A wrong rewrite in the canonicalize pass: tanh(x) -> sin(x)."""
    wrong = RuleTable("broken", [Rule("tanh_is_sin", "tanh", lambda n: T.sin(n.inputs[0]))])
    passes = tuple((name, pipeline.table_pass(wrong + pipeline.CANONICALIZE + pipeline.NOOPS))
                   if name == "canonicalize" else (name, run) for name, run in pipeline.PASSES)
    monkeypatch.setattr(pipeline, "PASSES", passes)


def _xor_step(mode: str):
    """The XOR tutorial's training step (two sigmoid layers, squared error, updates)."""
    x, y = T.dvector("x"), T.dscalar("y")
    rng = np.random.default_rng(3)
    theta1 = cgraph.shared(rng.random((3, 3)), name="theta1")
    theta2 = cgraph.shared(rng.random((4, 1)), name="theta2")

    def layer(x, w):
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, np.array([1.0])])))

    fc = (T.sum(layer(layer(x, theta1), theta2)) - y) ** 2
    updates = [(w, w - 0.1 * cgraph.grad(fc, wrt=w)) for w in (theta1, theta2)]
    return cgraph.function([x, y], fc, updates=updates, mode=mode), (theta1, theta2)


def test_the_xor_tutorial_with_updates_passes_and_updates_once():
    debug, debug_weights = _xor_step("DebugMode")
    plain, plain_weights = _xor_step("C")
    assert debug.mode == "DebugMode" and debug.reference is not None
    inputs, targets = np.array([[0, 1], [1, 0], [1, 1], [0, 0]]), [1, 1, 0, 0]
    for step in range(40):
        k = step % 4
        assert debug(inputs[k], targets[k]) == plain(inputs[k], targets[k])
    for a, b in zip(debug_weights, plain_weights):  # applied once: the same weights
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_mode_py_runs_the_graph_before_rewrites(broken_rewrite):
    """The fuzzer's comparison (C against the reference) catches a wrong rewrite: the
    reference never sees the rewrites."""
    x = T.dvector("x")
    out = T.tanh(x) * 2.0
    data = np.array([0.5, 1.0, 2.0])
    c_mode = cgraph.function([x], out, mode="C")
    py_mode = cgraph.function([x], out, mode="PY")
    assert not np.allclose(c_mode(data), py_mode(data))
    np.testing.assert_allclose(py_mode(data), np.tanh(data) * 2.0, rtol=1e-15)
    np.testing.assert_allclose(reference([x], out)(data), py_mode(data), rtol=1e-15)
    assert "tanh" not in debugprint(c_mode, file="str")
    assert "tanh" in debugprint(py_mode, file="str")


def test_a_wrong_rewrite_is_named_with_its_node_and_line(broken_rewrite):
    x = T.dvector("x")
    hidden = T.tanh(x)  # the line of tanh
    out = T.exp(hidden) + 1.0
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], [out], mode="DebugMode")
    sin = next(n for n in f.fgraph.toposort() if str(n.op) == "sin")
    label = node_labels(f.fgraph.outputs)[id(sin)]
    assert re.search(rf"sin .*\[id {label}\]", debugprint(f, file="str"))
    with pytest.raises(DebugModeError) as info:
        f(np.array([0.5, 1.0]))
    text = str(info.value)
    assert "output 0 of the C disagrees with the numpy reference" in text
    assert f"the first rewritten node whose value disagrees: [id {label}] sin(x" in text
    assert re.search(r"in place of \[id \w+\] tanh\(x", text)
    assert f"created at {__file__}:{_line_of('# the line of tanh')}" in text
    tanh_value, sin_value = np.tanh([0.5, 1.0]), np.sin([0.5, 1.0])
    assert f"{sin_value[0]:.6f}"[:6] in text and f"{tanh_value[0]:.6f}"[:6] in text


def test_a_wrong_rewrite_inside_a_fused_loop_is_still_caught(broken_rewrite):
    x = T.dvector("x")
    f = cgraph.function([x], T.tanh(x) * 2.0 + 1.0, mode="DEBUG_MODE")
    assert f.mode == "DebugMode"
    with pytest.raises(DebugModeError, match=r"(?s)output 0 .*the first rewritten node "
                                             r"whose value disagrees: \[id A\]"):
        f(np.array([0.5, 1.0]))


def test_an_update_that_disagrees_is_named(broken_rewrite):
    x = T.dvector("x")
    w = cgraph.shared(np.array([0.5, 1.0]), name="w")
    f = cgraph.function([x], x.sum(), updates=[(w, T.tanh(w) + x)], mode="DebugMode")
    before = w.get_value()
    with pytest.raises(DebugModeError, match=r"(?s)the update of w of the C disagrees.*"
                                             r"disagrees: \[id \w+\] fused\{sin,add\}\(w.*"
                                             r"in place of \[id \w+\] add\(tanh"):
        f(np.zeros(2))
    # The C ran and applied its update, once.
    np.testing.assert_allclose(w.get_value(), np.sin(before), rtol=1e-15)


def test_a_wrong_c_kernel_is_told_apart_from_a_wrong_rewrite(monkeypatch):
    """When the rewritten graph agrees with the reference in numpy, the rewrites are
    right: DebugMode names the node whose C computes the output."""
    x = T.dvector("x")
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], T.tanh(x) * 3.0, mode="DebugMode")
    f(np.array([0.25]))
    real = Elemwise.perform

    def off_by_one(self, node, inputs):  # the numpy side now differs from the C
        out = real(self, node, inputs)
        return [out[0] + 1.0] if self.scalar_op.name == "tanh" else out

    monkeypatch.setattr(Elemwise, "perform", off_by_one)
    with pytest.raises(DebugModeError, match=r"(?s)the rewritten graph agrees with the "
                                             r"reference in numpy.*computed by node \[id A\]"):
        f(np.array([0.25]))


def test_nan_agrees_with_nan_and_a_stabilized_result_is_accepted():
    x = T.dvector("x")
    f = cgraph.function([x], [T.log(x), T.log(nnet.sigmoid(x))], mode="DebugMode")
    logs, stable = f(np.array([-1.0, 2.0, -800.0]))
    assert np.isnan(logs[0]) and np.isnan(logs[2])
    np.testing.assert_allclose(stable[2], -800.0)  # the reference gives -inf there


def test_agree_uses_dtype_aware_tolerances():
    f64, f32 = np.dtype("float64"), np.dtype("float32")
    assert agree(np.array([1.0]), np.array([1.0 + 5e-6]), f64)
    assert not agree(np.array([1.0]), np.array([1.0 + 5e-5]), f64)
    assert agree(np.float32([1.0]), np.float32([1.0 + 8e-6]), f32)
    assert not agree(np.array([1, 2]), np.array([1, 3]), np.dtype("int64"))
    assert not agree(np.zeros(2), np.zeros(3), f64)
    assert agree(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]), f64)
    assert not agree(np.array([np.inf]), np.array([-np.inf]), f64)


def test_theano_mode_names():
    x = T.dvector("x")
    out = T.exp(x * 1.0) + T.exp(x * 1.0)
    fast_run = cgraph.function([x], out, mode="FAST_RUN")
    fast_compile = cgraph.function([x], out, mode="FAST_COMPILE")
    assert fast_run.mode == fast_compile.mode == "C"
    assert "fusion" in fast_run.rewrites
    # FAST_COMPILE: merge and constant folding, in the graph and in the steps of its scans
    assert set(fast_compile.rewrites) == {"merge", "constant_folding", "scan_steps"}
    data = np.array([0.5, -1.0])
    for f in (fast_run, fast_compile):
        np.testing.assert_allclose(f(data), 2 * np.exp(data), rtol=1e-15)
    with pytest.raises(ValueError, match="unknown mode 'FAST'.*'FAST_RUN'.*'DebugMode'"):
        cgraph.function([x], out, mode="FAST")


def test_a_debugmode_function_survives_a_copy():
    x = T.dvector("x")
    w = cgraph.shared(np.array([1.0, 2.0]), name="w")
    f = cgraph.function([x], (x * w).sum(), updates=[(w, w * 2.0)], mode="DebugMode")
    twin = f.copy()
    assert twin.mode == "DebugMode" and twin.reference is not None
    assert twin(np.ones(2)) == 3.0 and f(np.ones(2)) == 3.0


@pytest.mark.parametrize("name, mode", [("DebugMode", "DebugMode"), ("FAST_RUN", "C"),
                                        ("FAST_COMPILE", "C"), ("PY", "PY")])
def test_config_mode_takes_the_same_names(name, mode):
    x = T.dvector("x")
    with cgraph.config.change_flags(mode=name):
        f = cgraph.function([x], T.exp(x) * 2.0)
    assert f.mode == mode
    np.testing.assert_allclose(f(np.array([0.5])), 2 * np.exp([0.5]), rtol=1e-15)
    with pytest.raises(ValueError, match="mode"):
        cgraph.config.mode = "FAST"
