"""Run every benchmark: `python -m benchmarks [--quick]` (the CI smoke run uses --quick).

Each module also runs alone (`python -m benchmarks.xor`); missing optional backends
(PyTensor, JAX) are skipped with a note.
"""

from __future__ import annotations

import importlib
import sys
import time

MODULES = ("xor", "elemwise", "mlp", "dot", "reduce", "linalg", "compile")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    for name in MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"benchmarks.{name}":
                continue  # not written yet
            raise
        print(f"\n## benchmarks.{name}\n", flush=True)
        started = time.perf_counter()
        module.main(argv)
        print(f"\n({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
