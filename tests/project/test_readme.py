"""The README's examples run and print what the README says they print."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from helpers import REPO

README = REPO / "README.md"


def python_blocks() -> list[str]:
    """The ```python blocks (```py marks fragments that are not meant to run alone)."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_setup_commands_are_the_example_and_both_test_runs():
    text = README.read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", setup, flags=re.S)
    assert [c.strip() for c in commands] == [
        "pip install . && python examples/xor.py",
        'pip install -e ".[test]" && python -m pytest -q',
        "python -m pytest -q -m slow",
    ]


def test_ci_runs_the_readmes_two_test_commands():
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    assert "python -m pytest -q" in ci and "python -m pytest -q -m slow" in ci


@pytest.mark.slow
def test_readme_python_blocks_run_and_print_what_they_say():
    blocks = [b for b in python_blocks() if "import cgraph as theano" not in b]
    assert blocks, "no runnable python block in README.md"
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {})
        printed = out.getvalue().splitlines()
        expected = [m.group(1) for m in re.finditer(r"print\(.*\)\s+# (\S+)", block)]
        assert printed[:len(expected)] == expected
