"""What every benchmark shares: optional backends, interleaved medians, ratio tables.

PyTensor, JAX and numexpr are optional (`pip install -e .[bench]`): `optional(name)`
imports one or returns None after printing a note once. `--quick` (the CI smoke run)
never uses them, so it stays fast and needs nothing but cgraph and numpy.
"""

from __future__ import annotations

import ctypes.util
import importlib
import os
import statistics
import time
from collections.abc import Callable, Mapping
from types import ModuleType

_noted: set[str] = set()


def optional(name: str, quick: bool = False) -> ModuleType | None:
    """Import an optional backend, or None (with a note the first time) when it is
    missing or when `quick` is set."""
    if quick:
        return None
    if name == "pytensor":
        _pytensor_blas()
    try:
        module = importlib.import_module(name)
    except ImportError:
        if name not in _noted:
            _noted.add(name)
            print(f"({name} not installed: skipped; `pip install -e .[bench]` to compare)")
        return None
    if name == "jax":
        module.config.update("jax_enable_x64", True)  # float64 stays float64
    return module


def _pytensor_blas() -> None:
    """Give PyTensor a BLAS to link when the system has OpenBLAS (`apt install
    libopenblas-dev`) and the user set none: a pip-installed PyTensor finds none by
    itself, and then its mode C cannot compile products at all (`Gemv` has no C code
    without one). cgraph's own BLAS, scipy-openblas32, has prefixed symbols that
    PyTensor's C does not call."""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" in flags or ctypes.util.find_library("openblas") is None:
        return
    os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, "blas__ldflags=-lopenblas"]))


def interleaved(functions: Mapping[str, Callable[[], object]], rounds: int, calls: int,
                settle: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each zero-argument function, the functions taking
    turns round by round (so that a noisy neighbour slows them all alike).

    With `settle` > 0, each turn starts with that pause and one untimed call: a BLAS
    library's threads keep spinning for a while after a call (OpenBLAS: about 0.1 s),
    and on 2 cores two libraries' spinning pools (cgraph's, PyTensor's, XLA's) would
    slow whichever backend runs next."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, f in functions.items():
            if settle:
                time.sleep(settle)
                f()
            start = time.perf_counter()
            for _ in range(calls):
                f()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(v) for name, v in samples.items()}


def table(title: str, unit: str, values: Mapping[str, float], scale: float = 1.0,
          base: str = "cgraph") -> str:
    """A markdown table of `values` (seconds, shown times `scale` in `unit`) with each
    one's ratio to `base` (> 1: slower than `base`)."""
    ref = values[base]
    lines = [f"### {title}", "", f"| backend | {unit} | ratio to {base} |", "|---|---:|---:|"]
    for name, v in values.items():
        lines.append(f"| {name} | {v * scale:.4g} | {v / ref:.3g}x |")
    return "\n".join(lines) + "\n"


def pytensor_modes(pytensor: ModuleType | None) -> dict[str, object]:
    """The PyTensor modes compared: its C linker, its C virtual machine, its default."""
    if pytensor is None:
        return {}
    return {"pytensor C": "C", "pytensor CVM": "CVM", "pytensor default": None}
