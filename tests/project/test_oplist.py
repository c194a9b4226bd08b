"""README's list of operations is generated from the op tables, and up to date."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import REPO, TESTS

import cgraph.tensor as T
from cgraph.tensor import methods, oplist
from cgraph.tensor.random import RandomStream

README = REPO / "README.md"


def _section() -> str:
    text = README.read_text()
    return text.split(oplist.START, 1)[1].split(oplist.END, 1)[0]


def test_readme_lists_the_operations_that_exist():
    section = _section()
    assert section.strip() == oplist.op_list().strip(), (
        "README's operation list is stale: run `python -m cgraph ops --readme README.md`")
    places = (T, RandomStream, *oplist.submodules())
    for name in re.findall(r"`(\w+)`", section):
        assert any(hasattr(place, name) for place in places), name
    for name in re.findall(r"`x\.(\w+)`", section):
        assert name in methods._METHODS or hasattr(T.dvector(), name), name


def test_every_table_op_is_listed_under_a_name_users_call():
    section = _section()
    listed = set(re.findall(r"`(\w+)`", section))
    for name in T.ELEMENTWISE:
        spellings = {n for n in listed if getattr(getattr(T, n, None), "__name__", None) == name}
        assert spellings, f"elementwise op {name!r} is not in README under any name"
        assert all(getattr(T, n).__name__ == name for n in spellings)
    # user-facing names, not the table's internal ones
    for name in ("invert", "bitwise_not", "sqr", "square", "where", "fill", "tensor_copy"):
        assert f"`{name}`" in section, name
    assert "`x.astype`" in section and "`x.shape`" in section
    for internal in ("bitwise_not_int", "identity", "second"):
        assert f"`{internal}`" not in section, internal


def test_every_listed_operation_is_exercised_by_a_test():
    """A name in README's list must be called somewhere in tests/ (as `T.name`, `nnet.name`,
    `x.name`...): new ops come with their numpy check. Elementwise table ops are all run
    by test_ops.py's table test, which iterates over T.ELEMENTWISE."""
    sources = "\n".join(p.read_text() for p in sorted(TESTS.rglob("test_*.py"))
                        if p.name != Path(__file__).name and "programs" not in p.parts)
    section = _section()
    untested = []
    for name in sorted(set(re.findall(r"`(?:x\.)?(\w+)`", section))):
        if name in T.ELEMENTWISE or name in T.constructors or name in ("as_tensor_variable",):
            continue
        if getattr(getattr(T, name, None), "__name__", None) in T.ELEMENTWISE:
            continue  # an alias: test_elementwise_rules checks it is the table op
        if not re.search(rf"\.{name}\b", sources):
            untested.append(name)
    assert not untested, f"operations no test calls: {untested}"
