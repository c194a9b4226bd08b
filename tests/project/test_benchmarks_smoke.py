"""The benchmark suite still runs (`python -m benchmarks --quick`) and records its tables
(`--json`): a smoke test, no timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

ROOT = REPO


@pytest.mark.slow
def test_benchmark_suite_quick_run(tmp_path):
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(results)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "benchmarks.xor" in proc.stdout and "| cgraph |" in proc.stdout
    for name in ("xor", "elemwise", "mlp", "dot", "reduce", "ops", "statmodels", "compile"):
        result = json.loads((results / f"{name}.json").read_text())
        assert result["tables"] and result["machine"]["cores"] >= 1, name
