"""The documentation's benchmark tables are what `docs/tables.py` makes of the committed
result files (`docs/results/*.json`), so a table edited by hand fails here; every result
names its date and machine; `--json` (benchmarks/results.py) records printed tables."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from helpers import REPO

from benchmarks import results

RESULTS = REPO / "docs" / "results"


def _tables_module():
    spec = importlib.util.spec_from_file_location("docs_tables", REPO / "docs" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = _tables_module()


@pytest.mark.parametrize("page", tables.pages(), ids=lambda p: p.name)
def test_tables_are_generated_from_the_results(page):
    text = page.read_text()
    assert tables.render(text) == text, (
        f"{page.relative_to(REPO)}: a benchmark table differs from its result file; edit "
        "docs/results/*.json (or run the benchmark with --json) and `python docs/tables.py`")


def test_the_benchmark_page_is_generated():
    assert (REPO / "docs" / "benchmarks.md") in tables.pages()


def _results():
    return sorted(RESULTS.glob("*.json"))


@pytest.mark.parametrize("path", _results(), ids=lambda p: p.name)
def test_each_result_names_its_date_and_machine(path):
    result = json.loads(path.read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?", result["date"])
    machine = result["machine"]
    assert machine["cpu"] and machine["cores"] >= 1
    assert result["command"].startswith("python -m benchmarks.")
    if result["source"] == "measured":
        assert len(machine["load_average"]) == 3
        assert machine["python"] and machine["versions"]["numpy"]
        assert machine["cgraph_commit"]
    else:
        assert result["source"].startswith("transcribed from the ")
    for table in result["tables"]:
        width = len(table["columns"])
        assert len(table["units"]) == width
        assert table["rows"] and all(len(row) == width for row in table["rows"])


def test_each_result_is_shown():
    shown = {m["file"] for page in tables.pages() for m in tables.MARKER.finditer(page.read_text())}
    assert shown == {p.name for p in _results()}


def test_a_pasted_edit_is_caught():
    page = (REPO / "docs" / "benchmarks.md").read_text()
    block = next(tables.MARKER.finditer(page))
    edited = page.replace(block["body"], block["body"].replace("|", "| 1 |", 3), 1)
    assert edited != page
    assert tables.render(edited) == page


def test_an_unclosed_marker_is_an_error():
    with pytest.raises(ValueError, match="end benchmark-table"):
        tables.render("<!-- benchmark-table: xor.json -->\n| a |\n")


OUTPUT = """\
### Things, float64
(numexpr not installed: skipped)

| backend | µs/call (median) | ratio to cgraph |
|---|---:|---:|
| cgraph | 1.26 | 1x |
| numpy | 26.0 µs | 20.6x |

| n | backend | GFLOP/s |
| --- | --- | ---: |
| 1e+03 | cgraph | 44,424 |
float64: 1 C kernel(s)
"""


def test_printed_tables_are_parsed_as_data():
    found, notes = results.parse_tables(OUTPUT)
    assert [t["title"] for t in found] == ["Things, float64", None]
    assert found[0]["columns"] == ["backend", "µs/call (median)", "ratio to cgraph"]
    assert found[0]["units"] == [None, "µs", "x"]
    assert found[0]["rows"] == [["cgraph", 1.26, 1], ["numpy", 26.0, 20.6]]
    assert found[1]["rows"] == [[1000.0, "cgraph", 44424]]
    assert found[1]["units"] == [None, None, "GFLOP/s"]
    assert notes == ["(numexpr not installed: skipped)", "float64: 1 C kernel(s)"]


def fake_benchmark(argv):
    print(OUTPUT if argv == ["--quick"] else "no table")


def test_json_option_writes_the_tables_with_date_and_machine(tmp_path, capsys):
    path = tmp_path / "out" / "fake.json"
    results.run_main(fake_benchmark, ["--quick", "--json", str(path)])
    assert "| numpy | 26.0 µs |" in capsys.readouterr().out  # printed as before
    written = json.loads(path.read_text())
    assert written["command"] == "python -m benchmarks.test_benchmark_tables --quick"
    assert written["tables"] == results.parse_tables(OUTPUT)[0]
    assert written["machine"]["cores"] >= 1 and len(written["machine"]["load_average"]) == 3
    with pytest.raises(ValueError, match="printed no markdown table"):
        results.run_main(fake_benchmark, [f"--json={path}"])


def test_a_pivot_puts_backends_side_by_side_with_ratios():
    found, _ = results.parse_tables(OUTPUT)
    result = {"date": "2026-12-05", "command": "python -m benchmarks.fake", "source":
              "transcribed from the 2026-12-05 run", "machine": {"cpu": "CPU", "cores": 2},
              "tables": found}
    view = {"pivot": {"rows": ["table"], "across": "backend", "value": "µs/call (median)",
                      "ratio_to": ["backend", "cgraph"]}, "corner": "case"}
    assert tables.render_block(result, view).splitlines() == [
        "*Transcribed from the 2026-12-05 run: `python -m benchmarks.fake`; CPU, 2 cores.*",
        "", "| case | cgraph | numpy |", "|---|---:|---:|",
        "| Things, float64 | 1.26 | 26.0 (20.6x) |"]
