"""Profiles of compiled functions: where the time goes, kernel by kernel.

`cgraph.function(..., profile=True)` renders the module with a timer around each
kernel call (only then: an unprofiled module has no timing code) and keeps a
`ProfileStats` as `f.profile`, which also records how long building took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from cgraph.graph.basic import Apply

__all__ = ["ProfileStats", "kernel_flops"]


def kernel_flops(node: Apply, in_shapes: Sequence[tuple], out_shapes: Sequence[tuple]) -> int:
    """Floating-point operations of one kernel call, for the ops where GFLOP/s is the
    useful rate (matrix products: 2 M N K); 0 for the others, whose rate is in GB/s.

    The op states its count (`Op.flops`).
    """
    return int(node.op.flops(in_shapes, out_shapes))


@dataclass
class ProfileStats:
    """Timings of one compiled function.

    Attributes
    ----------
    kernels : list of str
        Each kernel's comment: the node's `[id X]` label (as `debugprint(f)` shows
        it), what it computes, its types, the user's line.
    counters : numpy array
        A float64 view of the module's (seconds, calls) pair per kernel.
    compile_times : dict
        Seconds spent building: "rewrite" (graph rewrites), "lower", "render",
        "compile" (C compiler, 0 on a cache hit), "load" (cache lookup and import).
    kernel_bytes, kernel_flops : tuple of int
        Bytes each kernel reads and writes, and its floating-point operations, for
        the call shapes planned last.
    nodes : list of Apply
        The node each kernel computes.
    """

    kernels: list[str]
    counters: Any = None  # a float64 view of the module's (seconds, calls) pairs
    compile_times: dict[str, float] = field(default_factory=dict)
    kernel_bytes: tuple[int, ...] = ()
    kernel_flops: tuple[int, ...] = ()
    nodes: list[Apply] = field(default_factory=list)

    def reset(self) -> None:
        """Zero the counters."""
        self.counters[:] = 0

    def set_plan(self, plan: Any) -> None:
        """Take the bytes moved and operations done per kernel from a call plan."""
        self.kernel_bytes = plan.kernel_bytes
        shapes = plan.shapes or {}
        flops = []
        for node in self.nodes:
            ins = [shapes.get(id(v), ()) for v in node.inputs]
            outs = [shapes.get(id(v), ()) for v in node.outputs]
            flops.append(kernel_flops(node, ins, outs) if id(node.outputs[0]) in shapes else 0)
        self.kernel_flops = tuple(flops)

    @property
    def total_seconds(self) -> float:
        """Seconds spent in kernels since the last reset."""
        return float(np.sum(self.counters[0::2]))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per kernel: kernel, node, calls, seconds, share, bytes, gbps,
        flops and gflops (0 when the kernel does no counted floating-point work)."""
        seconds = self.counters[0::2]
        calls = self.counters[1::2]
        total = float(seconds.sum()) or 1.0
        out = []
        for k, comment in enumerate(self.kernels):
            nbytes = self.kernel_bytes[k] if k < len(self.kernel_bytes) else 0
            flops = self.kernel_flops[k] if k < len(self.kernel_flops) else 0
            sec = float(seconds[k])
            out.append(dict(kernel=f"k{k}", node=comment, calls=int(calls[k]), seconds=sec,
                            share=sec / total, bytes=nbytes, flops=flops,
                            gbps=(nbytes * calls[k] / sec / 1e9) if sec > 0 else 0.0,
                            gflops=(flops * calls[k] / sec / 1e9) if sec > 0 else 0.0))
        return out

    def summary(self, file: IO[str] | None = None) -> str:
        """A table of the kernels by time spent, then the build times.

        Each row: kernel, calls, total seconds, share of the time in kernels, bytes
        moved per call, achieved GB/s (GFLOP/s for matrix products) and the node
        it computes. Printed to `file` (default: standard output) and returned.
        """
        rows = sorted(self.rows(), key=lambda r: -r["seconds"])
        lines = [f"{'kernel':<7}{'calls':>7} {'total (s)':>10} {'share':>6} "
                 f"{'bytes':>9} {'rate':>14}  node", "-" * 100]
        for r in rows:
            rate = (f"{r['gflops']:.2f} GFLOP/s" if r["flops"] else f"{r['gbps']:.2f} GB/s")
            lines.append(f"{r['kernel']:<7}{r['calls']:>7} {r['seconds']:>10.6f} "
                         f"{r['share']:>6.1%} {_size(r['bytes']):>9} {rate:>14}  {r['node']}")
        calls = max((r["calls"] for r in rows), default=0)
        per_call = self.total_seconds / calls * 1e6 if calls else 0.0
        lines.append(f"total in kernels: {self.total_seconds:.6f} s "
                     f"({per_call:.1f} us per call over {calls} calls)")
        times = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.compile_times.items())
        lines.append(f"build: {times} (total {sum(self.compile_times.values()) * 1e3:.1f} ms)")
        text = "\n".join(lines)
        print(text, file=file)
        return text


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
