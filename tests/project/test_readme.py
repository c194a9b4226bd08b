"""The README's set-up commands are the ones CI runs; its examples run as a page of the
documentation site does (tests/project/test_docs.py runs README.md's python blocks and
checks their `# prints:` lines), and the docs pages that show README sections include
them rather than copy them."""

from __future__ import annotations

import re

from helpers import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
# The README's two test commands: the quick run and the slow set, one worker per core.
QUICK = "python -m pytest -q -n auto --dist loadfile"
SLOW = QUICK + " -m slow"


def section(title: str) -> str:
    return README.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_readme_setup_commands_are_the_example_and_both_test_runs():
    commands = re.findall(r"```sh\n(.*?)```", section("Set-up"), flags=re.S)
    assert [c.strip() for c in commands] == [
        "pip install . && python examples/xor.py",
        f'pip install -e ".[test]" && {QUICK}',
        SLOW,
    ]


def test_ci_runs_the_readmes_two_test_commands():
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert QUICK in ci and SLOW in ci


def test_readme_examples_say_what_they_print():
    """The Quickstart's prints are checked (by test_docs), so they must say what they print."""
    assert section("Quickstart").count("# prints: ") >= 4


def test_readme_links_to_docs_pages_that_exist():
    text = README.read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert len(links) >= 8
    for link in links:
        assert (REPO / link).is_file(), f"README links to {link}, which does not exist"
    for page in ("getting-started", "from-theano", "guide", "reading-c", "performance",
                 "reliability", "testing", "benchmarks"):
        assert f"(docs/{page}.md)" in text, f"README does not link to docs/{page}.md"


def test_docs_pages_include_the_readme_sections_they_show():
    """Each marked README section is shown on a docs page by `{include}` with its markers."""
    text = README.read_text()
    for name, page in (("pitch", "index"), ("quickstart", "getting-started"),
                       ("testing", "testing"), ("ops", "guide")):
        start = re.search(rf"<!-- {name}:start[^>]*-->", text)
        assert start and f"<!-- {name}:end -->" in text, f"README has no {name} markers"
        shown = (DOCS / f"{page}.md").read_text()
        assert f":start-after: {start.group(0)}" in shown, f"docs/{page}.md"
        assert f":end-before: <!-- {name}:end -->" in shown, f"docs/{page}.md"
