"""Every public name of cgraph has an entry in the API reference (docs/api/) and a
docstring that says what it does.

The public modules are those with a page in docs/api/ (its title names the module:
``# `cgraph.tensor`: ...``) and the cgraph modules named in their `__all__`. A page
documents its module's `__all__` by autodoc (functions and classes, unless its
`automodule` leaves them out) and names the rest in its text, in code spans: data
such as the typed constructors, aliases, names documented on another page.
`test_site_builds` (tests/project/test_docs.py) checks the built site's index of
objects the same way.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO

API = REPO / "docs" / "api"
TITLE = re.compile(r"^# `([\w.]+)`", re.M)
OPTION = re.compile(r"^\s*:(members|exclude-members):\s*(.*)$", re.M)


@dataclass
class Page:
    """One reference page: its module and what its `automodule` takes or leaves out."""

    path: Path
    module: str
    text: str
    autodoc: bool
    members: set[str] | None  # None: every member
    excluded: set[str]

    def named(self, name: str) -> bool:
        """The page names `name` in a code span (`name`, `T.name`, `cgraph.x.name`...)."""
        spans = re.findall(r"`([^`\n]+)`", self.text)
        return any(name in re.findall(r"\w+", span) for span in spans)

    def autodocs(self, name: str) -> bool:
        return (self.autodoc and (self.members is None or name in self.members)
                and name not in self.excluded)


def pages() -> list[Page]:
    found = []
    for path in sorted(API.glob("cgraph*.md")):
        text = path.read_text()
        module = TITLE.search(text).group(1)
        options = {key: {n.strip() for n in value.split(",")}
                   for key, value in OPTION.findall(text)}
        found.append(Page(path, module, text, f"automodule:: {module}\n" in text,
                          options.get("members"), options.get("exclude-members", set())))
    return found


def public_names(module: types.ModuleType) -> list[str]:
    return list(getattr(module, "__all__", []))


def test_each_page_is_named_after_its_file():
    for page in pages():
        assert page.path.stem == page.module, page.path.name


def test_every_public_submodule_has_a_page():
    """A cgraph module named in a public `__all__` has a page, or the parent's page names
    it and exports all its names itself (`cgraph.tensor.xlogx`, `signal.conv`)."""
    by_module = {p.module: p for p in pages()}
    problems = []
    for page in by_module.values():
        module = importlib.import_module(page.module)
        for name in public_names(module):
            sub = getattr(module, name)
            if not isinstance(sub, types.ModuleType) or sub.__name__ in by_module:
                continue
            covered = set(public_names(sub)) <= set(public_names(module))
            if not (page.named(name) and covered):
                problems.append(f"{sub.__name__} (in {page.module}.__all__) has no page: add "
                                f"docs/api/{sub.__name__}.md and list it in docs/api/index.md")
    assert not problems, "\n".join(problems)


def test_every_page_is_in_the_index():
    index = (API / "index.md").read_text()
    for page in pages():
        assert f"\n{page.module}\n" in index, f"{page.module} is not in docs/api/index.md"


def test_every_public_name_has_an_entry():
    """A function or class of a page's `__all__` is autodoc'ed there, or on the page of
    a module it is an alias from (`tensor.nlinalg.det` is `tensor.linalg.det`), or named
    there; any other object (data, a type instance) is named in the page's text."""
    problems = []
    all_pages = pages()
    for page in all_pages:
        module = importlib.import_module(page.module)
        for name in public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                continue
            documented = _has_own_entry(obj) and any(
                other.autodocs(name) and _exports(other.module, name, obj)
                for other in all_pages)
            if not (documented or page.named(name)):
                problems.append(f"{page.module}.{name}: no entry on {page.path.name} (autodoc "
                                f"it, or name it in the page's text as `{name}`)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.module)
def test_public_functions_and_classes_have_docstrings(page: Page):
    """A docstring says what the name does: a sentence at least, not an empty string."""
    module = importlib.import_module(page.module)
    missing = [name for name in public_names(module)
               if _has_own_entry(getattr(module, name))
               and len(inspect.getdoc(getattr(module, name)) or "") < 20]
    assert not missing, f"{page.module}: no docstring (or a stub) for {missing}"


def _exports(module_name: str, name: str, obj: object) -> bool:
    module = importlib.import_module(module_name)
    return name in public_names(module) and getattr(module, name) is obj


def _has_own_entry(obj: object) -> bool:
    """Autodoc gives functions and classes an entry of their own (not data)."""
    return inspect.isroutine(obj) or inspect.isclass(obj)


# `|x|` outside a code span is an RST substitution reference: the site's build fails on it.
BARS = re.compile(r"(?<![|\w])\|[^|\s`][^|`\n]*\|(?![|\w])")


def _docstrings(module: types.ModuleType):
    """(name, docstring) of the module, its public names and their public methods."""
    yield module.__name__, inspect.getdoc(module) or ""
    for name in public_names(module):
        obj = getattr(module, name)
        if not _has_own_entry(obj):
            continue
        yield f"{module.__name__}.{name}", inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if not member.startswith("_") and inspect.isroutine(value):
                    yield f"{module.__name__}.{name}.{member}", inspect.getdoc(value) or ""


def test_docstrings_write_abs_not_bars():
    """Docstrings are RST for the site: `abs(x)` (or a code span), never a bare |x|."""
    found = []
    for page in pages():
        for where, doc in _docstrings(importlib.import_module(page.module)):
            prose = re.sub(r"``.*?``|`[^`]*`", "", doc, flags=re.S)
            found += [f"{where}: {m.group(0)}" for m in BARS.finditer(prose)]
    assert not found, "write abs(x) or a code span:\n" + "\n".join(found)
