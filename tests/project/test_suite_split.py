"""The suite's two runs (tests/conftest.py): without `-m` the tests marked `slow` are
left out unless their file or node id is named; `-m slow` runs only them."""

from __future__ import annotations

import pytest
from helpers import TESTS

pytest_plugins = ["pytester"]

CONFTEST = (TESTS / "conftest.py").read_text()
FILE_A = """
import pytest

def test_quick():
    pass

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2])
def test_slow_params(k):
    pass
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=FILE_A)
    pytester.makeini("[pytest]\nmarkers =\n    slow: slow\n")
    return pytester


def passed(result) -> list[str]:
    reports = result.reprec.getreports("pytest_runtest_logreport")
    return sorted(r.nodeid.split("::")[1] for r in reports if r.when == "call" and r.passed)


def test_default_run_leaves_the_slow_tests_out(suite):
    result = suite.runpytest_inprocess("-q")
    assert passed(result) == ["test_quick"]
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["*3 slow tests left out; `python -m pytest -q -m slow`*"])


def test_marker_expression_decides_alone(suite):
    assert passed(suite.runpytest_inprocess("-q", "-m", "slow")) == [
        "test_slow", "test_slow_params[1]", "test_slow_params[2]"]
    assert len(passed(suite.runpytest_inprocess("-q", "-m", "slow or not slow"))) == 4


def test_a_slow_test_named_by_node_id_runs(suite):
    assert passed(suite.runpytest_inprocess("-q", "test_a.py::test_slow")) == ["test_slow"]
    assert passed(suite.runpytest_inprocess("-q", "test_a.py::test_slow_params")) == [
        "test_slow_params[1]", "test_slow_params[2]"]
    assert passed(suite.runpytest_inprocess("-q", "test_a.py::test_slow_params[2]",
                                            "test_a.py::test_quick")) == [
        "test_quick", "test_slow_params[2]"]


def test_a_named_file_runs_whole_and_a_folder_does_not(suite):
    suite.makepyfile(test_b="import pytest\n\n@pytest.mark.slow\ndef test_b_slow():\n    pass\n")
    assert passed(suite.runpytest_inprocess("-q", "test_b.py")) == ["test_b_slow"]
    assert passed(suite.runpytest_inprocess("-q", "test_a.py", "test_b.py")) == [
        "test_b_slow", "test_quick", "test_slow", "test_slow_params[1]", "test_slow_params[2]"]
    assert passed(suite.runpytest_inprocess("-q", ".")) == ["test_quick"]
