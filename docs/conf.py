"""Sphinx configuration of cgraph's documentation site.

Build it from the repository root (the `[docs]` extra installs Sphinx, furo and
myst-parser):

    python -m sphinx -W -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference is autodoc of the docstrings. The
XOR graph picture is drawn at build time when Graphviz's `dot` program is installed.
"""

from __future__ import annotations

import io
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, not another install

import cgraph  # noqa: E402

project = "cgraph"
author = "the cgraph authors"
copyright = "the cgraph authors"  # noqa: A001  (Sphinx's name)
release = cgraph.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# README.md tells contributors how the docs work; it is not a page of the site.
exclude_patterns = ["_build", "README.md", "_generated/*.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"cgraph {release}"

# Docstrings are numpydoc ("Parameters / Returns" sections): napoleon reads them.
# `single backticks` in them name code, as in the Markdown pages.
default_role = "code"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True  # "Attributes" as fields: no second entry beside the member's own
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the signatures keep Theano's plain spelling
autodoc_default_options = {"members": True, "imported-members": True, "undoc-members": True}


_NAME_LINE = re.compile(r"^[A-Za-z_]\w* : \S")


def _literal_start(lines: list[str], i: int) -> bool:
    """Line i ends a paragraph with ":" and a more indented block follows a blank line."""
    line = lines[i].rstrip()
    if not line.endswith(":") or line.endswith("::") or line.lstrip().startswith((":", "..")):
        return False
    if i + 2 >= len(lines) or lines[i + 1].strip():
        return False
    nxt = lines[i + 2]
    return bool(nxt.strip()) and _indent(nxt) > _indent(line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_bars(line: str) -> str:
    """`|x|` outside code is an absolute value, not an RST substitution."""
    parts = line.split("`")
    return "`".join(p.replace("|", "\\|") if k % 2 == 0 else p for k, p in enumerate(parts))


def _plain_docstring(_app, _what, _name, _obj, _options, lines: list[str]) -> None:
    """Read the docstrings' Markdown habits as RST: a block after "text:" is preformatted
    (a printed graph, a C comment), a bare `name : text` list (no numpydoc heading) is
    preformatted too, and `|x|` is text. Edits `lines` in place, after napoleon."""
    out: list[str] = []
    literal_indent = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if literal_indent is not None and line.strip() and _indent(line) <= literal_indent:
            literal_indent = None
        if literal_indent is None:
            if line.rstrip().endswith("::"):
                literal_indent = _indent(line)
            elif _literal_start(lines, i):
                line = _escape_bars(line) + ":"
                literal_indent = _indent(line)
            elif _NAME_LINE.match(line) and (not out or not out[-1].strip()):
                out += ["::", ""]
                while i < len(lines) and lines[i].strip():
                    out.append("    " + lines[i])
                    i += 1
                continue
            else:
                line = _escape_bars(line)
        out.append(line)
        i += 1
    lines[:] = out


def _draw_xor_graph(_app) -> None:
    """Write `_generated/xor_graph.md`: the XOR picture, or a note why there is none."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    if shutil.which("dot") is None:
        text = ("*(The picture of this graph is drawn when the site is built on a machine "
                "with Graphviz's `dot` program; this build had none. `python -m cgraph "
                "demo xor --draw xor.svg` draws it.)*\n")
    else:
        from cgraph.__main__ import demo_xor

        demo_xor(epochs=1, draw=str(out / "xor_graph.svg"), out=io.StringIO())
        text = "![The XOR tutorial's compiled training step](xor_graph.svg)\n"
    (out / "xor_graph.md").write_text(text)


def setup(app) -> None:
    app.connect("builder-inited", _draw_xor_graph)
    app.connect("autodoc-process-docstring", _plain_docstring, priority=600)
