"""Render the documentation's benchmark tables from the committed result files.

Run from the repository root:

    python docs/tables.py           # rewrite the tables of every page that has markers
    python docs/tables.py --check   # exit 1 (and show the difference) if one is stale

A result file `docs/results/NAME.json` is what `python -m benchmarks.NAME --json
docs/results/NAME.json` writes (benchmarks/results.py: the tables a run printed, as
columns, units and rows, with its date and machine), or the same layout transcribed by
hand from an earlier run's published table, marked `"source": "transcribed from ..."`.
A page asks for a table between two comment lines; only the text between them changes:

    <!-- benchmark-table: xor.json {"tables": [0, 1], "pivot": ...} -->
    (generated: a line naming the run, then the table)
    <!-- end benchmark-table -->

The optional JSON after the file name chooses the view:

- `"table"`: which table of the file (its index, default 0), shown as recorded;
  `"columns"`: the recorded columns to show (default all).
- `"tables"` and `"pivot"`: `{"rows": [fields], "across": field, "value": field}`
  makes one row per distinct `rows` key and one column per value of `across`, the
  cells from `value` (a column's name, or its position in each table); the field
  `"table"` is the title of the table a row came from (so `"tables": [0, 1]` with
  `"across": "table"` puts two tables side by side).
  `"ratio_to": [field, value]` adds each cell's ratio to the cell that has `value` in
  `field` and is otherwise the same, as `1.63 (2.1x)`; `"keep"`: the `across` values
  to show, in order (default all, in order of appearance).
- `"labels"`: `{recorded: shown}` for column headers and row labels; `"corner"`: the
  header over the row labels; `"caption": false` leaves out the line naming the run
  (for a second table of a run already named).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
from decimal import Decimal
from pathlib import Path

DOCS = Path(__file__).resolve().parent
RESULTS = DOCS / "results"
MARKER = re.compile(r"^<!-- benchmark-table: (?P<file>\S+)(?: (?P<view>\{[^\n]*\}))? -->\n"
                    r"(?P<body>.*?)^<!-- end benchmark-table -->$", re.M | re.S)
OPENING = re.compile(r"^<!-- benchmark-table:", re.M)
#: Packages named in a run's caption, when the run had them.
CAPTION_VERSIONS = ("numpy", "jax", "pytensor", "numexpr")


def number(value: float, unit: str | None = None) -> str:
    """A number as recorded (whole from 10,000 up, with commas); a ratio (unit `x`)
    with two decimals below 10 and three figures above: `1.00x`, `20.6x`, `136x`."""
    if unit == "x":
        if abs(value) >= 100:
            return f"{value:.0f}x"
        return (f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}") + "x"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return format(Decimal(repr(value)), "f")


def label(value: object, labels: dict[str, str]) -> str:
    """A row or column label: renamed by `labels`; a power of ten from 1e3 up as `1e5`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        exponent = math.log10(value) if value > 0 else 0.5
        if value >= 1000 and exponent.is_integer():
            value = f"1e{int(exponent)}"
        else:
            value = number(value)
    return labels.get(str(value), str(value))


def cell(value: object, unit: str | None) -> str:
    """A table cell: a number as `number` writes it, text as it is, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, unit)
    return str(value)


def caption(result: dict) -> str:
    """The line naming a run: command, date, machine, versions, commit."""
    m = result["machine"]
    parts = [m.get("cpu")]
    if m.get("cores"):
        parts.append(f"{m['cores']} cores")
    load, after = m.get("load_average"), m.get("load_average_after")
    if isinstance(load, list):
        moved = after and after[0] != load[0]
        parts.append(f"load average {load[0]}" + (f" to {after[0]}" if moved else ""))
    elif load:
        parts.append(load)  # as a transcribed run stated it
    versions = [f"Python {m['python']}"] if m.get("python") else []
    versions += [f"{name} {v}" for name, v in m.get("versions", {}).items()
                 if name in CAPTION_VERSIONS]
    if m.get("gcc"):
        versions.append(f"gcc {m['gcc']}")
    commit = m.get("cgraph_commit")
    if commit:
        versions.append(f"cgraph {commit}" + (" with uncommitted changes" if m.get("dirty")
                                               else ""))
    where = ", ".join(str(p) for p in parts if p)
    date = result["date"].replace("T", " ").replace("Z", " UTC")
    if result.get("source", "measured") == "measured":
        head = f"Measured {date} by `{result['command']}`"
    else:
        head = f"{result['source'][0].upper()}{result['source'][1:]}: `{result['command']}`"
    return f"*{head}; {where}; {', '.join(versions)}.*" if versions else f"*{head}; {where}.*"


def markdown(header: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    align = ["---:" if right else "---" for right in numeric]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def as_recorded(table: dict, view: dict) -> str:
    labels = view.get("labels", {})
    names = view.get("columns", table["columns"])
    missing = [name for name in names if name not in table["columns"]]
    if missing:
        raise ValueError(f"no column {missing} in table {table['title']!r}")
    index = [table["columns"].index(name) for name in names]
    rows = [[cell(row[i], table["units"][i]) for i in index] for row in table["rows"]]
    numeric = [all(isinstance(row[i], (int, float)) for row in table["rows"]
                   if row[i] is not None) for i in index]
    return markdown([labels.get(table["columns"][i], table["columns"][i]) for i in index],
                    rows, numeric)


def records(tables: list[dict], value: str | int) -> list[dict]:
    """Every row of `tables` as {column: value}, plus its table's title as "table" and
    its `value` column (a name, or a position in each table) as "value", with its
    unit as "unit"."""
    found = []
    for t in tables:
        if isinstance(value, int):
            index = value
        elif value in t["columns"]:
            index = t["columns"].index(value)
        else:
            raise ValueError(f"pivot value {value!r} is not a column of table {t['title']!r}")
        found += [dict(zip(t["columns"], row), table=t["title"], value=row[index],
                       unit=t["units"][index]) for row in t["rows"]]
    return found


def pivot(tables: list[dict], view: dict) -> str:
    spec, labels = view["pivot"], view.get("labels", {})
    fields, across = spec["rows"], spec["across"]
    rows = records(tables, spec["value"])
    for field in [*fields, across]:
        if any(field not in r for r in rows):
            raise ValueError(f"pivot field {field!r} is not a column of every table")
    cells = {(tuple(r[f] for f in fields), r[across]): r for r in rows if r["value"] is not None}
    keep = [c for c in view.get("keep") or dict.fromkeys(r[across] for r in rows)
            if any(column == c for _, column in cells)]
    keys = list(dict.fromkeys(tuple(r[f] for f in fields) for r in rows))
    ratio = spec.get("ratio_to")

    def shown(key: tuple, column: object) -> str:
        found = cells.get((key, column))
        if found is None:
            return ""
        text = cell(found["value"], found["unit"])
        if ratio is None:
            return text
        field, base = ratio
        base_at = (tuple(base if f == field else k for f, k in zip(fields, key)),
                   base if across == field else column)
        ref = cells.get(base_at)
        if ref and ref["value"] and (key, column) != base_at:
            text += f" ({number(found['value'] / ref['value'], 'x')})"
        return text

    header = [view.get("corner", ", ".join(fields))] + [label(c, labels) for c in keep]
    body = [[", ".join(label(k, labels) for k in key)] + [shown(key, c) for c in keep]
            for key in keys]
    return markdown(header, body, [False] + [True] * len(keep))


def render_block(result: dict, view: dict) -> str:
    tables = result["tables"]
    if "pivot" in view:
        text = pivot([tables[i] for i in view.get("tables", [view.get("table", 0)])], view)
    else:
        text = as_recorded(tables[view.get("table", 0)], view)
    if view.get("caption", True):
        text = caption(result) + "\n\n" + text
    return text + "\n"


def load(name: str, results: Path = RESULTS) -> dict:
    path = results / name
    if not path.is_file():
        raise FileNotFoundError(f"benchmark table marker names {name}, not in {results}")
    return json.loads(path.read_text())


def render(page: str, results: Path = RESULTS) -> str:
    """`page` with the text between each pair of markers made again from the results."""
    if len(OPENING.findall(page)) != len(MARKER.findall(page)):
        raise ValueError("a `<!-- benchmark-table: ... -->` line has no "
                         "`<!-- end benchmark-table -->` line after it")

    def replace(match: re.Match) -> str:
        view = json.loads(match["view"]) if match["view"] else {}
        block = render_block(load(match["file"], results), view)
        return match.group(0).replace(match["body"], block, 1) if match["body"] else (
            match.group(0).replace("-->\n", "-->\n" + block, 1))

    return MARKER.sub(replace, page)


def pages() -> list[Path]:
    """The documentation pages that have benchmark table markers."""
    return [p for p in sorted(DOCS.rglob("*.md")) if "_build" not in p.parts
            and OPENING.search(p.read_text())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a page's tables are stale")
    args = parser.parse_args(argv)
    stale = 0
    for path in pages():
        old = path.read_text()
        new = render(old)
        if new == old:
            continue
        stale += 1
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), str(path), "generated"))
        else:
            path.write_text(new)
            print(f"wrote {path.relative_to(DOCS.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
