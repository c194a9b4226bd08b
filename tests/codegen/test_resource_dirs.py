"""Which templates and headers a cgraph renders with: its own tree's.

A checkout imported from its root (PYTHONPATH, a second git worktree) shadows an
installed cgraph. An editable install's `cgraph.templates` names the installed tree's
folder, so looking the package up first rendered one tree's Python with another's
templates (a worktree used for an A/B measured the other tree's C)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

from cgraph.codegen.render import csrc_dir, templates_dir


def test_this_tree_renders_its_own_templates():
    assert templates_dir() == REPO / "templates" and csrc_dir() == REPO / "csrc"


def test_a_copy_of_the_tree_on_pythonpath_uses_its_own_folders(tmp_path):
    for part in ("cgraph", "templates", "csrc"):
        shutil.copytree(REPO / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__", "_prebuilt"))
    script = ("from cgraph.codegen.render import templates_dir, csrc_dir; "
              "print(templates_dir()); print(csrc_dir())")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, text=True,
                         capture_output=True, check=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert [Path(line) for line in out.stdout.split()] == [tmp_path / "templates",
                                                          tmp_path / "csrc"]
