"""README's list of operations is generated from the op tables, and up to date."""

from __future__ import annotations

import re
from pathlib import Path

import cgraph.tensor as T
from cgraph.tensor import nnet, oplist

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_the_operations_that_exist():
    text = README.read_text()
    section = text.split(oplist.START, 1)[1].split(oplist.END, 1)[0]
    assert section.strip() == oplist.op_list().strip(), (
        "README's operation list is stale: run `python -m cgraph ops --readme README.md`")
    for name in re.findall(r"`(\w+)`", section):
        assert hasattr(T, name) or hasattr(nnet, name), name
    for name in T.ELEMENTWISE:
        assert f"`{name}`" in section
