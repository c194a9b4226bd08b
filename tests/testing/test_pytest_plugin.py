"""cgraph's pytest plugin (cgraph/testing/plugin.py), run on users' test files through
pytest's own `pytester`: each inner run is a new process, as a user's run is."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import pytest
from helpers import REPO

pytest_plugins = ["pytester"]

USER_TEST = """
import numpy as np
import pytest
import cgraph
import cgraph.tensor as T


@pytest.mark.requires_cc
def test_double(cgraph_cache, cgraph_config):
    cgraph_config(floatX="float32")
    x = T.vector("x")
    f = cgraph.function([x], x * 2)
    np.testing.assert_allclose(f(np.arange(3, dtype="float32")), [0, 2, 4])
    with open("seen.txt", "w") as out:
        out.write(f"{f.mode} {cgraph.config.floatX} {cgraph_cache}\\n")


def test_flags_are_back():
    assert cgraph.config.floatX == "float64"
"""


def test_the_plugin_is_registered_with_pytest():
    found = [e for e in entry_points(group="pytest11") if e.name == "cgraph"]
    assert [e.value for e in found] == ["cgraph.testing.plugin"]


def seen(pytester: pytest.Pytester) -> list[str]:
    return (pytester.path / "seen.txt").read_text().split()


# Each test running pytest in a child process (several seconds) is in the slow set,
# but for the mode-PY run of a user's suite.
@pytest.mark.parametrize("mode", [pytest.param("C", marks=pytest.mark.slow), "PY"])
def test_a_users_suite_runs_in_the_mode_asked(pytester, mode):
    pytester.makepyfile(test_model=USER_TEST)
    result = pytester.runpytest_subprocess(f"--cgraph-mode={mode}")
    result.assert_outcomes(passed=2)
    got_mode, floatx, _ = seen(pytester)
    assert (got_mode, floatx) == (mode, "float32")
    if mode == "C":
        # the user's module, and the C call path's unless it was built at install
        result.stdout.fnmatch_lines(
            ["cgraph: * compiled in *.* s, 0 loaded from the disk cache, *"])


@pytest.mark.slow
def test_the_session_cache_is_removed_unless_kept(pytester):
    pytester.makepyfile(test_model=USER_TEST)
    pytester.runpytest_subprocess().assert_outcomes(passed=2)
    folder = seen(pytester)[2]
    assert "cgraph-cache-" in folder and not pytester.path.joinpath(folder).exists()
    result = pytester.runpytest_subprocess("--cgraph-keep-cache")
    result.assert_outcomes(passed=2)
    kept = pytester.path / seen(pytester)[2]
    assert any(kept.iterdir())  # the compiled module is there
    result.stdout.fnmatch_lines([f"cgraph: the test cache is kept in {kept}"])


@pytest.mark.slow
def test_requires_cc_skips_with_the_reason_when_no_compiler(pytester, monkeypatch):
    pytester.makepyfile(test_model=USER_TEST)
    monkeypatch.setenv("PATH", "")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] test_model.py:*: requires_cc: *'gcc'*not found: PATH is empty*"])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ASan preload is Linux's")
def test_sanitize_without_the_runtime_stops_with_the_command_to_use(pytester):
    pytester.makepyfile(test_model=USER_TEST)
    result = pytester.runpytest_subprocess("--cgraph-sanitize")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cgraph-sanitize: *AddressSanitizer*", "*LD_PRELOAD=*"])


@pytest.mark.slow
def test_a_session_without_cgraph_reports_nothing(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert 1\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "cgraph:" not in result.stdout.str()


WRONG_OP = """
import numpy as np
import cgraph
import cgraph.tensor as T
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import upcast
from cgraph.testing import assert_modes_agree

# A deliberately wrong op: its C triples, its numpy reference doubles.
double = Elemwise(ScalarOp("double", 1, "({t})({0} * 3)", lambda a: a * 2, upcast, None))


def test_model():
    x = T.vector("x")
    f = cgraph.function([x], T.exp(double(x)).sum())
    f(np.arange(3.0))


def test_checked():
    x = T.vector("x")
    assert_modes_agree([x], T.exp(double(x)).sum(), np.arange(3.0))
"""


@pytest.mark.slow
def test_both_modes_name_the_node_whose_c_is_wrong(pytester):
    pytester.makepyfile(test_wrong=WRONG_OP)
    result = pytester.runpytest_subprocess("--cgraph-mode=both", "-k", "test_model")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines([
        "*DebugMode: *output 0 of the C disagrees with the numpy reference*",
        "*the C computing it is not; it is computed by node [[]id A[]] *double*"
        "(created at *test_wrong.py:14)*"])
    pytester.runpytest_subprocess("--cgraph-mode=C", "-k", "test_model").assert_outcomes(
        passed=1, deselected=1)


@pytest.mark.slow
def test_assert_modes_agree_names_the_output_and_the_node(pytester):
    pytester.makepyfile(test_wrong=WRONG_OP)
    result = pytester.runpytest_subprocess("-k", "test_checked")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: modes C and PY disagree on output 0: at index (), the reference "
        "gives 62.98720613207489 and the C 424.51433041592276 (1 of 1 elements differ)",
        "*computed by node [[]id A[]] *double* (created at *test_wrong.py:20)*"])


def test_assert_modes_agree_compares_updates_and_leaves_shared_values_alone():
    import numpy as np

    import cgraph
    import cgraph.tensor as T
    from cgraph.testing import assert_modes_agree

    x = T.vector("x")
    w = cgraph.shared(np.ones(3), name="w")
    n = cgraph.shared(np.int64(0), name="n")
    assert_modes_agree([x], [T.exp(x * w).sum(), x * w], np.arange(3.0),
                       updates=[(w, w - 0.1 * x), (n, n + 1)])
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    assert n.get_value() == 0
    from cgraph.tensor.elemwise import Elemwise, ScalarOp
    from cgraph.tensor.math import upcast
    wrong = Elemwise(ScalarOp("double", 1, "({t})({0} * 3)", lambda a: a * 2, upcast, None))
    with pytest.raises(AssertionError, match=r"disagree on the update of w: at index \(1,\)"):
        assert_modes_agree([x], [], np.arange(3.0), updates=[(w, w - wrong(x))])
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    with pytest.raises(TypeError, match="takes the graph"):
        assert_modes_agree(cgraph.function([x], x), np.ones(3))


@pytest.mark.slow
def test_the_readme_example_passes_in_both_modes(pytester):
    """The user's test file of the README's "Testing your own models" runs as shown."""
    import re

    readme = (REPO / "README.md").read_text()
    section = readme.split("## Testing your own models", 1)[1].split("\n## ", 1)[0]
    pytester.makepyfile(test_readme_model=re.findall(r"```python\n(.*?)```", section,
                                                     flags=re.S)[0])
    result = pytester.runpytest_subprocess("--cgraph-mode=both")
    result.assert_outcomes(passed=1)
