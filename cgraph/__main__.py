"""The command line: `python -m cgraph ...` (also installed as the `cgraph` command).

    cgraph --version
    cgraph cache info | list | clear   (clear and purge also remove killed builds' folders)
    cgraph cache purge [--older-than DAYS] [--max-size SIZE]
    cgraph config                      every flag, its value and where it came from
    cgraph demo xor [--draw FILE]      the Theano XOR tutorial, compiled by cgraph
    cgraph ops [--readme README.md]    the operation list

The cache commands work on `config.cache_dir` (CGRAPH_FLAGS=cache_dir=...), else
`$CGRAPH_CACHE_DIR`, else `~/.cache/cgraph`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph import backend
from cgraph.configdefaults import Config, config
from cgraph.printing import GraphvizNotFound, pydotprint
from cgraph.printing.text import KERNEL_STARTS
from cgraph.tensor import oplist

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1000**3, "gib": 1024**3}
# A kernel's comment in the generated C: `/* v3 = exp(v2:x)  float64[?]  [id B]  at f.py:3 */`
_KERNEL_COMMENT = re.compile(r"^/\* (?:\S+, )*\S+ = (.+?)\)  .*?(?:  at (\S+))? \*/$")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def parse_size(text: str) -> int:
    """`"500M"`, `"2GiB"`, `"100kb"`, `"4096"` -> bytes (K/M/G are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 500M or 2G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _stale(n: int) -> str:
    return f"{n} stale build folder{'' if n == 1 else 's'}"


def _age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.1f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def summarize_c(source: str) -> str:
    """What a cached module computes, from its kernels' comments: `3 kernels: exp,
    Dot, Sum (at model.py:12)`; "" for C that cgraph did not generate."""
    ops: list[str] = []
    where = ""
    lines = source.splitlines()
    for line, following in zip(lines, lines[1:]):
        match = _KERNEL_COMMENT.match(line)
        if match and following.startswith(KERNEL_STARTS):
            call = match.group(1)  # `op(args`: the op is what precedes the last "("
            ops.append(call[:call.rfind("(")] if "(" in call else call)
            where = where or (match.group(2) or "")
    if not ops:
        return ""
    shown = ", ".join(dict.fromkeys(ops))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    site = f" (at {where})" if where else ""
    return f"{len(ops)} kernel{'s' if len(ops) != 1 else ''}: {shown}{site}"


def cache_command(args: argparse.Namespace, cfg: Config) -> int:
    """Run one `cache` action, printing to stdout; returns the exit status."""
    root = cfg.cache_dir or None
    if args.action == "info":
        info = backend.cache_info(root)
        print(f"cache directory: {info['path']}")
        print(f"entries:         {info['n_entries']}")
        print(f"size:            {_size(info['total_bytes'])}")
        print(f"stale builds:    {info['n_stale_builds']} ({_size(info['stale_bytes'])}; "
              "left by killed processes, removed by `cache clear` and `cache purge`)")
    elif args.action == "list":
        now = time.time()
        print(f"{'key':<16} {'last used':>10} {'created':>19} {'size':>10}  computes")
        for entry in sorted(backend.cache_list(root), key=lambda e: -e["last_used"]):
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["created"]))
            try:
                summary = summarize_c(Path(entry["source"]).read_text(errors="replace"))
            except OSError:
                summary = ""
            print(f"{entry['key'][:16]} {_age(now - entry['last_used']) + ' ago':>10} "
                  f"{created:>19} {_size(entry['size']):>10}  {summary or '-'}  "
                  f"{entry['path']}")
    elif args.action == "clear":
        stale = backend.cache_remove_stale(root)
        removed = backend.cache_clear(root)
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} and {_stale(stale)} "
              f"from {backend.cache_dir(root)}")
    elif args.action == "purge":
        if args.older_than is None and args.max_size is None:
            print("cache purge: give --older-than DAYS and/or --max-size SIZE", file=sys.stderr)
            return 2
        older = None if args.older_than is None else args.older_than * 86400
        stale = backend.cache_remove_stale(root)
        removed = backend.cache_purge(older_than=older, max_bytes=args.max_size, root=root)
        freed = sum(e["size"] for e in removed)
        left = backend.cache_info(root)
        print(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
              f"({_size(freed)}) and {_stale(stale)}; {left['n_entries']} left "
              f"({_size(left['total_bytes'])})")
    return 0


# --------------------------------------------------------------------------- demo


def demo_xor(epochs: int = 10000, seed: int | None = 0, draw: str | None = None,
             out: Any = None) -> list[float]:
    """The Theano XOR tutorial (examples/xor.py), compiled and trained by cgraph.

    Parameters
    ----------
    epochs : int
        Passes over the four training rows.
    seed : int, optional
        Seed of the initial weights (None: numpy's global state, as the tutorial).
    draw : str, optional
        Also draw the compiled training step into this file (see `pydotprint`).
    out : file-like, optional
        Where to print (default: standard output).

    Returns
    -------
    list of float
        The trained network's outputs for [0, 1], [1, 1], [1, 0], [0, 0].
    """
    out = out or sys.stdout
    rng = np.random.default_rng(seed) if seed is not None else np.random
    floatX = cgraph.config.floatX

    def layer(x: Any, w: Any) -> Any:
        b = np.array([1], dtype=floatX)
        new_x = T.concatenate([x, b])
        return nnet.sigmoid(T.dot(w.T, new_x))

    def grad_desc(cost: Any, theta: Any) -> Any:
        return theta - (0.1 * T.grad(cost, wrt=theta))

    x, y = T.dvector("x"), T.dscalar("y")
    theta1 = cgraph.shared(np.array(rng.random((3, 3)), dtype=floatX), name="theta1")
    theta2 = cgraph.shared(np.array(rng.random((4, 1)), dtype=floatX), name="theta2")
    hid1 = layer(x, theta1)
    out1 = T.sum(layer(hid1, theta2))
    fc = (out1 - y) ** 2
    cost = cgraph.function([x, y], fc, name="cost", updates=[
        (theta1, grad_desc(fc, theta1)), (theta2, grad_desc(fc, theta2))])
    run_forward = cgraph.function([x], out1, name="run_forward")
    inputs = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=floatX)
    exp_y = np.array([1, 1, 0, 0], dtype=floatX)
    for i in range(epochs):
        for k in range(len(inputs)):
            cur_cost = cost(inputs[k], exp_y[k])
        if i % 500 == 0:
            print(f"Cost: {float(cur_cost)}", file=out)
    predictions = [float(run_forward(np.array(p, dtype=floatX)))
                   for p in ([0, 1], [1, 1], [1, 0], [0, 0])]
    for p, value in zip(([0, 1], [1, 1], [1, 0], [0, 0]), predictions):
        print(f"{p} -> {value:.4f}", file=out)
    print(f"the training step's C: {cost.c_path}", file=out)
    if draw:
        print(f"drew the training step's graph: {pydotprint(cost, draw)}", file=out)
    return predictions


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cgraph", description="cgraph's command line tools.")
    parser.add_argument("--version", action="version", version=f"cgraph {cgraph.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    cache = commands.add_parser("cache", help="inspect, clear or purge the module cache")
    cache.add_argument("action", choices=("info", "list", "clear", "purge"))
    cache.add_argument("--older-than", type=float, metavar="DAYS",
                       help="purge: remove entries not loaded for this many days")
    cache.add_argument("--max-size", type=parse_size, metavar="SIZE",
                       help="purge: then remove the least recently used entries until the "
                            "cache is at most this big (e.g. 500M, 2G)")
    commands.add_parser("config", help="print every configuration flag and its value")
    demo = commands.add_parser("demo", help="run a tutorial example")
    demo.add_argument("name", choices=("xor",))
    demo.add_argument("--epochs", type=int, default=10000)
    demo.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    demo.add_argument("--draw", metavar="FILE",
                      help="draw the compiled training step (.svg, .png, .dot)")
    ops = commands.add_parser("ops", help="list cgraph.tensor's operations (markdown)")
    ops.add_argument("--readme", metavar="PATH", help="rewrite the list in this README")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "ops":
        if args.readme:
            changed = oplist.update_readme(args.readme)
            print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
        else:
            print(oplist.op_list(), end="")
        return 0
    if args.command == "config":
        print(config.describe())
        return 0
    if args.command == "demo":
        try:
            demo_xor(args.epochs, args.seed, args.draw)
        except GraphvizNotFound as err:
            print(f"cgraph demo: {err}", file=sys.stderr)
            return 1
        return 0
    return cache_command(args, config)


if __name__ == "__main__":
    sys.exit(main())
