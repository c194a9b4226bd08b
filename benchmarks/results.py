"""Benchmark results as data: `--json PATH` for every module that prints markdown tables.

A module opts in with its entry point, `if __name__ == "__main__": run_main(main)`
(and `from benchmarks.results import run_main`); nothing else changes. Then
`python -m benchmarks.NAME [its options] --json PATH` runs as before and also writes
PATH: the tables it printed, parsed into columns, units and rows, with the date and the
machine of the run (`machine()`; the load average at the start, and at the end as
`load_average_after`). A table is any run of printed lines starting with `|` (a
header, a `---` line, the rows), its title the `### ` heading printed before it, if
any; other printed lines (and headings with no table after them) are kept as `notes`.
A cell that reads as a number (`1.26`, `44,424`, `1e+03`, `340.1 µs`, `20.6x`) is
stored as a number, and the unit written after the column's numbers (or named in its
header: `(s)`, `ms`, `GFLOP/s`, `ratio`) as the column's unit. `python -m benchmarks
--json DIR` writes DIR/NAME.json for each module it runs. `docs/tables.py` renders the
documentation's tables from such files (committed under `docs/results/`).

The file (`"format": 1`)::

    {"benchmark": "xor", "command": "python -m benchmarks.xor", "source": "measured",
     "date": "2026-12-05T07:40:12Z", "machine": {"cpu": ..., "cores": 2, ...},
     "tables": [{"title": ..., "columns": [...], "units": [...], "rows": [[...]]}],
     "notes": [...]}
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Packages whose versions a result names when they are installed.
VERSIONS = ("numpy", "scipy", "cffi", "scipy-openblas32", "jax", "pytensor", "numexpr",
            "dask")
#: A unit written after a number in a cell (`340.1 µs`, `20.6x`).
_NUMBER = re.compile(r"^(-?[\d,]*\.?\d+(?:e[+-]?\d+)?)\s*(x|µs|us|ms|s|kB|MB|%)?$")
#: A unit named in a column header, when its cells are bare numbers: `(s)`, `ms per step`,
#: `GFLOP/s`, `ratio to cgraph`, `cgraph / numpy`.
_HEADER_UNIT = re.compile(r"(?:^|[\s(])(GFLOP/s|rows/s|µs|us|ms|s|seconds|kB|MB)(?=$|[\s),/])")
_HEADER_RATIO = re.compile(r"\bratio\b| / ")


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((line.split(":", 1)[1].split() for line in lines
                  if line.startswith("flags")), [])
    simd = [f for f in ("avx2", "avx512f") if f in flags]
    return " ".join([names[0] if names else platform.machine(), *(f"+{f}" for f in simd)])


def machine() -> dict[str, object]:
    """Where and with what a result was measured: CPU model (with AVX2/AVX-512 when
    present), logical cores, the load average (1, 5, 15 min) when called, Python, gcc
    and package versions, and cgraph's commit (`dirty` when the tree has changes)."""
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    gcc = _run(["gcc", "-dumpfullversion"])
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gcc": gcc or None,
        "versions": versions,
        "cgraph_commit": _run(["git", "rev-parse", "--short", "HEAD"]) or None,
        "dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
    }


def _cell(text: str) -> tuple[object, str | None]:
    """A cell's value (a number when it reads as one) and the unit written after it."""
    match = _NUMBER.match(text.strip().replace("`", ""))
    if not match:
        return text.strip(), None
    number = float(match.group(1).replace(",", ""))
    return (int(number) if number.is_integer() and "." not in match.group(1)
            and "e" not in match.group(1) else number), match.group(2)


def _units(header: str, cell_units: list[str | None]) -> str | None:
    found = set(cell_units) - {None}
    if len(found) == 1 and None not in cell_units:
        return found.pop()
    if match := _HEADER_UNIT.search(header):
        return {"seconds": "s", "us": "µs"}.get(match.group(1), match.group(1))
    return "x" if _HEADER_RATIO.search(header) else None


def _split(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_tables(output: str) -> tuple[list[dict], list[str]]:
    """The markdown tables printed in `output` (title, columns, units, rows) and the
    other non-empty lines (notes), in order."""
    tables: list[dict] = []
    notes: list[str] = []
    title = None
    lines = output.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k].strip()
        if line.startswith("|") and k + 1 < len(lines) and set(lines[k + 1].strip()) <= set(
                "|-: "):
            columns = _split(line)
            k += 2
            cells = []
            while k < len(lines) and lines[k].strip().startswith("|"):
                cells.append([_cell(c) for c in _split(lines[k])])
                k += 1
            units = [_units(header, [row[i][1] for row in cells if isinstance(row[i][0],
                                                                              (int, float))])
                     for i, header in enumerate(columns)]
            rows = [[value for value, _ in row] for row in cells]
            tables.append({"title": title, "columns": columns, "units": units, "rows": rows})
            title = None
            continue
        if line.startswith("#"):
            if title is not None:  # a heading with no table of its own is a note
                notes.append(title)
            title = line.lstrip("#").strip()
        elif line:
            notes.append(line)
        k += 1
    if title is not None:
        notes.append(title)
    return tables, notes


def result(benchmark: str, argv: list[str], output: str, started: str,
           machine_info: dict) -> dict:
    """The JSON document of one run of `benchmarks.<benchmark>` that printed `output`."""
    tables, notes = parse_tables(output)
    command = " ".join(["python -m", f"benchmarks.{benchmark}", *argv])
    return {"format": 1, "benchmark": benchmark, "command": command, "source": "measured",
            "date": started, "machine": machine_info, "tables": tables, "notes": notes}


def dumps(document: dict) -> str:
    """`document` as indented JSON with each list of plain values (a row, the columns,
    the units) on one line, so that a result file reads as its tables."""
    text = json.dumps(document, indent=1, ensure_ascii=False)
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                  lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"


class _Tee(io.TextIOBase):
    def __init__(self, stream):
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def record(benchmark: str, main: Callable[[list[str]], object], argv: list[str],
           path: str | os.PathLike) -> dict:
    """Run `main(argv)`, printing as usual, and write what it printed as a result to
    `path` (the machine is read at the start, so its load average is the run's)."""
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    info = machine()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        main(argv)
    document = result(benchmark, argv, "".join(tee.parts), started, info)
    info["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    if not document["tables"]:
        raise ValueError(f"benchmarks.{benchmark} printed no markdown table to record")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(dumps(document))
    return document


def split_json_option(argv: list[str]) -> tuple[list[str], str | None]:
    """`argv` without its `--json PATH` (or `--json=PATH`), and PATH (None if absent)."""
    rest, path = [], None
    args = iter(argv)
    for arg in args:
        if arg == "--json":
            path = next(args, None)
            if path is None:
                raise SystemExit("--json needs a path")
        elif arg.startswith("--json="):
            path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, path


def run_main(main: Callable[[list[str]], object], argv: list[str] | None = None) -> None:
    """A benchmark module's entry point: `main(argv)`, and with `--json PATH` also the
    result file. The module's name comes from `main.__module__`."""
    rest, path = split_json_option(list(sys.argv[1:] if argv is None else argv))
    if path is None:
        main(rest)
        return
    benchmark = main.__module__.rsplit(".", 1)[-1]
    if benchmark == "__main__":
        benchmark = Path(sys.argv[0]).stem
    record(benchmark, main, rest, path)
