"""No source file of the package, its templates or its C headers passes 500 lines
(issue #14): a file that grows past it is split by idea (as math.py's table machinery
went to tensor/table.py), not left to grow."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 500


def test_no_source_file_passes_the_limit():
    files = [*ROOT.joinpath("cgraph").rglob("*.py"), *ROOT.joinpath("templates").glob("*.j2"),
             *ROOT.joinpath("csrc").glob("*.h")]
    assert len(files) > 100  # the tree was found
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > LIMIT}
    assert not long, f"files over {LIMIT} lines (split them by idea): {long}"
