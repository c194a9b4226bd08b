"""Draw the documentation's pictures: SVG files committed under `docs/pictures/`.

Run from the repository root:

    python docs/pictures.py                     # every picture this machine can draw
    python docs/pictures.py profile             # one of: xor, profile, compile-time
    python docs/pictures.py compile-time --run  # measure the figures again first

- `xor`: the XOR tutorial's compiled training step, as `python -m cgraph demo xor
  --draw` draws it (needs Graphviz's `dot` program; without it this one is skipped).
- `profile`: where the time of the MLP training step of `benchmarks.mlp` goes, per
  kernel, from `cgraph.function(..., profile=True)` over 200 steps.
- `compile-time`: `cgraph.function`'s time against the size of the graph (the
  residual chain of `benchmarks.compile_scale`: N layers, its gradient and an SGD
  update), cold (empty cache) and warm (cached, a new process). The figures are in
  `pictures/compile_time.json`; `--run` measures them again (a few minutes).

matplotlib is not a dependency: the charts are plain SVG written here.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from html import escape
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PICTURES = DOCS / "pictures"
sys.path.insert(0, str(DOCS.parent))  # the checkout's cgraph and benchmarks

FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12"'
COLOURS = ("#3b6ea5", "#d9822b", "#4f9a58", "#b5443b")


def svg(width: int, height: int, body: list[str]) -> str:
    """A standalone SVG document of the given size around `body`'s elements."""
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="white"/>', *body, "</svg>", ""])


def text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>'
            f"{escape(s)}</text>")


def bar_chart(title: str, rows: list[tuple[str, float, str]], unit: str) -> str:
    """Horizontal bars: (label, value, note) per row, longest first as given."""
    label_w, bar_w, row_h, top = 330, 330, 24, 46
    height = top + row_h * len(rows) + 30
    scale = bar_w / max((v for _, v, _ in rows), default=1.0)
    body = [text(10, 22, title, extra='font-size="14" font-weight="bold"')]
    for k, (label, value, note) in enumerate(rows):
        y = top + k * row_h
        body.append(text(label_w - 8, y + 15, label, "end"))
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(value * scale, 1):.1f}" '
                    f'height="{row_h - 8}" fill="{COLOURS[0]}"/>')
        body.append(text(label_w + value * scale + 6, y + 15, note))
    body.append(text(label_w, height - 10, unit, extra='fill="#555"'))
    return svg(label_w + bar_w + 190, height, body)


def line_chart(title: str, xs: list[float], series: dict[str, list[float]],
               xlabel: str, ylabel: str) -> str:
    """Lines with markers over shared x values, on linear axes from 0."""
    left, right, top, bottom, w, h = 60, 190, 40, 50, 420, 260
    xmax = max(xs)
    ymax = max(max(v) for v in series.values())
    ystep = _nice_step(ymax / 5)
    ymax = ystep * (int(ymax / ystep) + 1)

    def px(x: float) -> float:
        return left + w * x / xmax

    def py(y: float) -> float:
        return top + h - h * y / ymax

    body = [text(10, 22, title, extra='font-size="14" font-weight="bold"'),
            f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#333"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#333"/>']
    y = 0.0
    while y <= ymax + 1e-12:
        body.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + w}" y2="{py(y):.1f}" '
                    'stroke="#ddd"/>')
        body.append(text(left - 6, py(y) + 4, f"{y:g}", "end"))
        y += ystep
    for x in xs:
        body.append(text(px(x), top + h + 16, f"{x:g}", "middle"))
    body.append(text(left + w / 2, top + h + 36, xlabel, "middle"))
    body.append(text(14, top + h / 2, ylabel, "middle",
                     f'transform="rotate(-90 14 {top + h / 2})"'))
    for k, (name, ys) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, ys))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>')
        body += [f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}"/>'
                 for x, v in zip(xs, ys)]
        ly = top + 10 + 20 * k
        body.append(f'<line x1="{left + w + 15}" y1="{ly}" x2="{left + w + 35}" y2="{ly}" '
                    f'stroke="{colour}" stroke-width="2"/>')
        body.append(text(left + w + 40, ly + 4, name))
    return svg(left + w + right, top + h + bottom, body)


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least `raw`."""
    power = 10.0 ** int(f"{raw:e}".split("e")[1])
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def draw_xor() -> Path | None:
    """The XOR training step through Graphviz; None where `dot` is missing."""
    if shutil.which("dot") is None:
        print("xor: skipped, Graphviz's `dot` program is not installed")
        return None
    path = PICTURES / "xor_graph.svg"
    subprocess.run([sys.executable, "-m", "cgraph", "demo", "xor", "--epochs", "1", "--draw",
                    str(path)], check=True, capture_output=True, cwd=DOCS.parent)
    return path


def draw_profile(steps: int = 200) -> Path:
    """Per-kernel time of the float32 MLP step of `benchmarks.mlp`, profiled."""
    import numpy as np

    import cgraph
    import cgraph.tensor as T
    from benchmarks.mlp import BATCH, LR, SIZES, initial_params
    from cgraph.tensor import nnet

    x, y = T.fmatrix("x"), T.fmatrix("y")
    params = [cgraph.shared(p, name=n)
              for p, n in zip(initial_params("float32"), ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = params
    h = T.tanh(T.dot(x, w1) + b1)
    loss = T.mean(nnet.categorical_crossentropy(nnet.softmax(T.dot(h, w2) + b2), y))
    step = cgraph.function([x, y], loss, profile=True, updates=[
        (p, p - LR * g) for p, g in zip(params, cgraph.grad(loss, params))])
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((BATCH, SIZES[0])).astype("float32")
    ys = np.eye(SIZES[-1], dtype="float32")[rng.integers(0, SIZES[-1], BATCH)]
    for _ in range(20):
        step(xs, ys)
    step.profile.reset()
    for _ in range(steps):
        step(xs, ys)
    rows = sorted(step.profile.rows(), key=lambda r: -r["seconds"])
    total_us = step.profile.total_seconds / steps * 1e6
    bars = [(_kernel_label(r["node"]), r["seconds"] / steps * 1e6,
             f"{r['seconds'] / steps * 1e6:.0f} us ({r['share']:.0%})") for r in rows[:10]]
    title = (f"MLP 784-256-10 training step, float32, batch {BATCH}: "
             f"{total_us:.0f} us in kernels per step")
    path = PICTURES / "profile.svg"
    path.write_text(bar_chart(title, bars, f"microseconds per step, {steps} steps, "
                              f"the 10 costliest kernels (cgraph {cgraph.__version__})"))
    return path


def _kernel_label(comment: str) -> str:
    """`v9 = Gemm{-0.1, 1.0}(v8, v6, v1:W)  float32[?,?]  [id H]  at f.py:5` ->
    `Gemm(v8, v6, W) [id H]`: the op (a fused loop keeps its parts), the inputs by
    name where they have one, and the node's label."""
    rhs = comment.split(" = ", 1)[-1]
    call = rhs.split("  ", 1)[0]
    op, _, args = call.partition("(")
    if not op.startswith("fused"):
        op = op.split("{", 1)[0]
    names = [a.split(":", 1)[-1] for a in args.rstrip(")").split(", ")]
    ident = rhs.rsplit("[id ", 1)
    label = f"{op}({', '.join(names)})"
    if len(label) > 40:
        label = label[:37] + "...)"
    return label + (f" [id {ident[1].split(']')[0]}]" if len(ident) == 2 else "")


def measure_compile_time(sizes: tuple[int, ...] = (25, 50, 100, 200, 400)) -> dict:
    """Cold and warm `function()` seconds of the residual chain, each a new process."""
    from benchmarks.compile_scale import CHAIN, child

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as cache:
            cold = child(CHAIN, n, 0.1, cache=cache)
            warm = child(CHAIN, n, 0.1, cache=cache)
        rows.append({"layers": n, "cold": cold["seconds"], "warm": warm["seconds"],
                     "warm_cpu": warm["cpu"], "c_kb": cold["c_bytes"] / 1e3})
        print(rows[-1], flush=True)
    return {"measured": time.strftime("%Y-%m-%d"), "machine": _machine(), "rows": rows}


def _machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def draw_compile_time(run: bool = False) -> Path:
    """The compile-time plot from `pictures/compile_time.json` (measured first if `run`)."""
    data_path = PICTURES / "compile_time.json"
    if run or not data_path.exists():
        data_path.write_text(json.dumps(measure_compile_time(), indent=1) + "\n")
    data = json.loads(data_path.read_text())
    rows = data["rows"]
    chart = line_chart(
        f"function() of the residual chain's training step ({data['measured']})",
        [r["layers"] for r in rows],
        {"cold (wall)": [r["cold"] for r in rows], "warm (wall)": [r["warm"] for r in rows],
         "warm (CPU)": [r["warm_cpu"] for r in rows]},
        "layers N (18 nodes a layer as built, gradient and update included)", "seconds")
    path = PICTURES / "compile_time.svg"
    path.write_text(chart)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pictures", nargs="*", choices=["xor", "profile", "compile-time"],
                        help="which pictures (default: all)")
    parser.add_argument("--run", action="store_true",
                        help="compile-time: measure the figures again")
    args = parser.parse_args(argv)
    wanted = args.pictures or ["xor", "profile", "compile-time"]
    PICTURES.mkdir(exist_ok=True)
    drawn = []
    if "xor" in wanted:
        drawn.append(draw_xor())
    if "profile" in wanted:
        drawn.append(draw_profile())
    if "compile-time" in wanted:
        drawn.append(draw_compile_time(args.run))
    for path in filter(None, drawn):
        print(f"wrote {path.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
