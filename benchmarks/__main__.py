"""Run every benchmark: `python -m benchmarks [--quick] [--json DIR]` (the CI smoke run
uses --quick; `--json DIR` also writes each module's tables to DIR/NAME.json, see
benchmarks/results.py).

Each module also runs alone (`python -m benchmarks.xor [--json PATH]`); missing optional
backends (PyTensor, JAX) are skipped with a note.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from benchmarks.results import record, split_json_option

MODULES = ("xor", "elemwise", "mlp", "dot", "reduce", "ops", "linalg", "statmodels", "compile")


def main(argv: list[str] | None = None) -> None:
    argv, folder = split_json_option(list(sys.argv[1:] if argv is None else argv))
    for name in MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"benchmarks.{name}":
                continue  # not written yet
            raise
        print(f"\n## benchmarks.{name}\n", flush=True)
        started = time.perf_counter()
        if folder is None:
            module.main(argv)
        else:
            record(name, module.main, argv, Path(folder) / f"{name}.json")
        print(f"\n({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
