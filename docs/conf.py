"""Sphinx configuration of cgraph's documentation site.

Build it from the repository root (the `[docs]` extra installs Sphinx, furo and
myst-parser):

    python -m sphinx -W -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference is autodoc of the docstrings, which
are numpydoc read by napoleon. The XOR graph picture is drawn at build time when
Graphviz's `dot` program is installed; the other pictures are committed SVG files
drawn by `python docs/pictures.py`.
"""

from __future__ import annotations

import shutil
import subprocess
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


def _draw_xor_graph(_app) -> None:
    """Write `_generated/xor_graph.md` and its picture: drawn now where Graphviz's `dot`
    is installed, else the committed `pictures/xor_graph.svg` (`python docs/pictures.py
    xor` draws that one)."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    picture = out / "xor_graph.svg"
    if shutil.which("dot") is None:
        shutil.copyfile(DOCS / "pictures" / "xor_graph.svg", picture)
    else:  # as the command line draws it (a node names the line that made it)
        subprocess.run([sys.executable, "-m", "cgraph", "demo", "xor", "--epochs", "1",
                        "--draw", str(picture)], check=True, capture_output=True,
                       cwd=DOCS.parent)
    (out / "xor_graph.md").write_text(
        "![The XOR tutorial's compiled training step](xor_graph.svg)\n")


def setup(app) -> None:
    app.connect("builder-inited", _draw_xor_graph)
