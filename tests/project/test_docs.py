"""Every code block of the documentation site runs (docs/*.md, docs/README.md says how),
and so does every block of the repository's README.md.

The pages are Markdown. A ```python block runs; the blocks of one page run in order in
one namespace, in a temporary working folder, with numpy's global seed set to 0. A
```py block, or one preceded by an `<!-- skip -->` line, is a fragment and does not run.
A line ending in `# prints: TEXT` expects TEXT as the next line the block prints: the
block's printed lines must be exactly the expected ones, in order (numbers compare to
1e-9 relative; TEXT ending in `...` matches a line that starts with the rest). A page
whose front matter says `docs_test: slow` runs in the slow set only.

No Sphinx is needed for that; `test_site_builds` builds the site with warnings as errors
when Sphinx, furo and myst-parser are installed (`pip install -e ".[docs]"`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, import_test_module

DOCS = REPO / "docs"
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w{}-]*)")
PRINTS = re.compile(r"#\s*prints:\s?(.*?)\s*$")
SKIP = "<!-- skip -->"


@dataclass
class Block:
    """One fenced code block of a page."""

    lang: str
    line: int  # the first line of code, 1-based
    code: str
    skipped: bool

    @property
    def runs(self) -> bool:
        return self.lang == "python" and not self.skipped

    def expected(self) -> list[str]:
        return [m.group(1) for m in map(PRINTS.search, self.code.splitlines()) if m]


def front_matter(text: str) -> dict[str, str]:
    """The `key: value` lines of a page's leading `---` block (flat YAML only)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    meta = {}
    for line in lines[1:]:
        if line.strip() == "---":
            return meta
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    raise ValueError("front matter without its closing ---")


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        prev = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: the {fence} block is not closed")
        found.append(Block(lang, i + 2, "\n".join(body) + "\n", prev == SKIP))
        i = j + 1
    return found


def same_line(expected: str, got: str) -> bool:
    if expected.endswith("..."):
        return got.startswith(expected[:-3])
    if expected == got:
        return True
    try:
        want, have = float(expected), float(got)
    except ValueError:
        return False
    return bool(np.isclose(have, want, rtol=1e-9, atol=0.0))


def run_page(path: Path, workdir: Path) -> int:
    """Run the page's blocks in order in one namespace; return how many ran. A block
    that raises, or prints other lines than its `# prints:` comments say, fails."""
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    old = os.getcwd()
    np.random.seed(0)
    try:
        os.chdir(workdir)
        for block in blocks(path.read_text()):
            if not block.runs:
                continue
            # Pad with blank lines so tracebacks give the line number in the page.
            code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
            expected = block.expected()
            if expected:
                got = out.getvalue().splitlines()
                if len(got) != len(expected) or not all(map(same_line, expected, got)):
                    raise AssertionError(
                        f"{path.name}, the block at line {block.line} printed\n"
                        + "\n".join(got) + "\nwhere the page says\n" + "\n".join(expected))
            ran += 1
    finally:
        os.chdir(old)
    return ran


def _pages() -> list:
    """Every page of the site, docs/README.md, and the repository's README.md."""
    params = []
    for path in [*sorted(DOCS.rglob("*.md")), REPO / "README.md"]:
        if "_build" in path.parts or "_generated" in path.parts:
            continue
        slow = front_matter(path.read_text()).get("docs_test") == "slow"
        name = "README.md (repository)" if path.parent == REPO else str(path.relative_to(DOCS))
        params.append(pytest.param(path, id=name,
                                   marks=[pytest.mark.slow] if slow else []))
    return params


@pytest.mark.parametrize("path", _pages())
def test_page_examples_run(path: Path, tmp_path: Path) -> None:
    run_page(path, tmp_path)


def test_the_pages_have_examples() -> None:
    """The guides that promise examples have some that run (a parser that found none
    would pass every page)."""
    for name in ("getting-started", "from-theano", "tutorials", "reading-c", "testing"):
        page = DOCS / f"{name}.md"
        assert sum(b.runs for b in blocks(page.read_text())) >= 1, name


PAGE = """---
docs_test: slow
---
# A page

```python
x = 6 * 7
print(x)  # prints: 42
print(0.1 + 0.2)  # prints: 0.3
```

```py
fragment_that_would_fail()
```

<!-- skip -->
```python
also_skipped()
```

```python
print("and then", x)  # prints: and then...
```
"""


def test_parser_reads_the_conventions(tmp_path: Path) -> None:
    found = blocks(PAGE)
    assert [(b.lang, b.skipped, b.runs) for b in found] == [
        ("python", False, True), ("py", False, False), ("python", True, False),
        ("python", False, True)]
    assert found[0].line == 7 and found[0].expected() == ["42", "0.3"]
    assert front_matter(PAGE) == {"docs_test": "slow"}
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    assert run_page(page, tmp_path) == 2


@pytest.mark.parametrize("bad, message", [
    ("print(41)  # prints: 42", "printed\n41\nwhere the page says\n42"),
    ("print(1)\nprint(2)  # prints: 1", "where the page says\n1"),
    ("raise KeyError('boom')", "boom"),
])
def test_a_wrong_example_fails(tmp_path: Path, bad: str, message: str) -> None:
    page = tmp_path / "bad.md"
    page.write_text(f"# Bad\n\n```python\n{bad}\n```\n")
    with pytest.raises((AssertionError, KeyError), match=re.escape(message)):
        run_page(page, tmp_path)


def test_a_traceback_names_the_page_line(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("# Bad\n\ntext\n\n```python\nx = 1\nundefined_name\n```\n")
    with pytest.raises(NameError) as info:
        run_page(page, tmp_path)
    assert info.traceback[-1].lineno + 1 == 7 and str(info.traceback[-1].path) == str(page)


def test_unclosed_fence_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 3: the ``` block is not closed"):
        blocks("# Page\n\n```python\nx = 1\n")


@pytest.mark.slow
@pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("sphinx", "furo",
                                                                   "myst_parser")),
                    reason='the site needs Sphinx, furo and myst-parser: pip install -e ".[docs]"')
def test_site_builds(tmp_path: Path) -> None:
    """The documented command builds the site with warnings as errors."""
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                           str(DOCS), str(tmp_path / "html"), "-d", str(tmp_path / "doctrees")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "html" / "api" / "cgraph.tensor.html").is_file()
    _check_index_of_objects(tmp_path / "html" / "objects.inv")


def _check_index_of_objects(inventory: Path) -> None:
    """Each name in the `__all__` of a module with an API page has an entry in the built
    site (under its module's name, or under the module it is an alias from), or is named
    in the page's text (data; test_api_reference.py)."""
    import importlib
    import posixpath

    from sphinx.util.inventory import InventoryFile

    reference = import_test_module("test_api_reference")
    with inventory.open("rb") as f:
        inv = InventoryFile.load(f, "", posixpath.join)
    entries = {name for kind, objects in inv.items() if kind.startswith("py:")
               for name in objects}
    problems = []
    for page in reference.pages():
        module = importlib.import_module(page.module)
        for name in reference.public_names(module):
            obj = getattr(module, name)
            homes = {page.module} | {getattr(obj, "__module__", "") or ""}
            homes |= {p.module for p in reference.pages()
                      if reference._exports(p.module, name, obj)}
            if not (any(f"{home}.{name}" in entries for home in homes) or page.named(name)):
                problems.append(f"{page.module}.{name} has no entry in the built site")
    assert not problems, "\n".join(problems)
