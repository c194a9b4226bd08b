"""Profiles of compiled functions: where the time goes, kernel by kernel.

`cgraph.function(..., profile=True)` renders the module with a timer around each
kernel call (only then: an unprofiled module has no timing code) and keeps a
`ProfileStats` as `f.profile`, which also records how long building took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ProfileStats:
    """Timings of one compiled function.

    Attributes
    ----------
    kernels : list of str
        Each kernel's comment (the node it computes, its types, the user's line).
    compile_times : dict
        Seconds spent building: "lower", "render", "compile" (C compiler, or 0 on a
        cache hit), "load" (cache lookup and import).
    kernel_bytes : tuple of int
        Bytes each kernel reads and writes, for the shapes planned last.
    """

    kernels: list[str]
    counters: Any = None  # a float64 view of the module's (seconds, calls) pairs
    compile_times: dict[str, float] = field(default_factory=dict)
    kernel_bytes: tuple[int, ...] = ()

    def reset(self) -> None:
        """Zero the counters."""
        self.counters[:] = 0

    def rows(self) -> list[dict[str, Any]]:
        """One dict per kernel: name, node, calls, seconds, share, GB/s."""
        seconds = self.counters[0::2]
        calls = self.counters[1::2]
        total = float(seconds.sum()) or 1.0
        out = []
        for k, comment in enumerate(self.kernels):
            nbytes = self.kernel_bytes[k] if k < len(self.kernel_bytes) else 0
            sec = float(seconds[k])
            out.append(dict(kernel=f"k{k}", node=comment, calls=int(calls[k]), seconds=sec,
                            share=sec / total,
                            gbps=(nbytes * calls[k] / sec / 1e9) if sec > 0 else 0.0))
        return out

    def summary(self, file: Any = None) -> str:
        """A table of the kernels by time spent (printed, and returned as text)."""
        rows = sorted(self.rows(), key=lambda r: -r["seconds"])
        lines = ["kernel  calls  total (s)  share   GB/s  node", "-" * 72]
        for r in rows:
            lines.append(f"{r['kernel']:<6} {r['calls']:>6} {r['seconds']:>10.6f} "
                         f"{r['share']:>6.1%} {r['gbps']:>6.2f}  {r['node']}")
        total = float(np.sum(self.counters[0::2]))
        lines.append(f"total in kernels: {total:.6f} s")
        times = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.compile_times.items())
        lines.append(f"build: {times}")
        text = "\n".join(lines)
        print(text, file=file)
        return text
