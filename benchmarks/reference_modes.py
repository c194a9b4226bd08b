"""The reference modes on the tutorial's XOR step: mode "PY" (the graph as built,
unrewritten, in the numpy interpreter) and mode "DebugMode" (the C and that reference
on every call, compared), beside mode "C" and a hand-written numpy step.

Run: `python -m benchmarks.reference_modes [--quick]`. Prints a markdown table of
median times per call (interleaved rounds) with ratios to mode "PY". The modes are
references, not fast paths: the table says what a call of each costs.
"""

from __future__ import annotations

import argparse

import numpy as np

import cgraph
from benchmarks.common import interleaved, table
from benchmarks.results import run_main
from benchmarks.xor import INPUTS, TARGETS, numpy_step, tutorial_step


def steps() -> dict[str, object]:
    """A zero-argument call of each step, cycling through the four training rows."""
    rows = [(np.asarray(x, dtype=np.float64), float(y)) for x, y in zip(INPUTS, TARGETS)]
    made = {"numpy by hand": numpy_step()[0]}
    for mode in ("C", "PY", "DebugMode"):
        made[f"cgraph {mode}"] = tutorial_step(cgraph, mode=mode)[0]
    calls = {}
    for name, step in made.items():
        counter = iter(range(10**12))

        def call(step=step, counter=counter) -> object:
            return step(*rows[next(counter) % 4])

        calls[name] = call
    return calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    rounds, calls = (3, 20) if args.quick else (9, 300)
    times = interleaved(steps(), rounds, calls)
    print(table("XOR cost call in the reference modes", "µs/call (median)", times, 1e6,
                base="cgraph PY"))


if __name__ == "__main__":
    run_main(main)
