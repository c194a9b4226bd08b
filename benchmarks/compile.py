"""Compile time of the XOR tutorial's training step: cold (empty cache, new process)
and warm (cached, new process), cgraph vs PyTensor's mode "C" (when installed).

Run: `python -m benchmarks.compile [--quick]`. Each measurement is a fresh Python
process timing only `function(...)` (imports excluded), median of a few runs, in wall
time and in CPU time (the process's and its compilers' during the call: a figure that
a busy machine disturbs less, and that counts both cores' work).

What "cold" includes: an empty cache, so everything the call compiles. The row
"cgraph" is an installed cgraph: what a machine compiles once for any graph (the C call
path's module, the runtime's parts, the templates' bytecode) was compiled when cgraph
was installed (setup.py runs `python -m cgraph.compile.prebuild`; here it is run once,
untimed, into a temporary folder that `CGRAPH_PREBUILT` points at), and cold is the
step's own module. The row "cgraph, no install-time build" (`CGRAPH_PREBUILT=off`:
an install whose build step failed or was skipped) compiles those at its first use,
in the cold column, as PyTensor compiles its own C modules at first use. "Cold, primed
cache" starts from a cache that compiled another network (three layers) before: the
XOR step's own compile in either row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import optional
from benchmarks.results import run_main

BUILD = """
import json, resource, time, numpy as np
import {lib} as th
T = th.tensor
try:
    import {lib}.tensor.nnet as nnet
    sigmoid = nnet.sigmoid
except (ImportError, AttributeError):
    from pytensor.tensor.math import sigmoid
x, y = T.dvector(), T.dscalar()
def layer(x, w):
    return sigmoid(T.dot(w.T, T.concatenate([x, np.array([1.0])])))
t1, t2 = th.shared(np.full((3, 3), 0.5)), th.shared(np.full((4, 1), 0.5))
fc = (T.sum({net}) - y) ** 2
def cpu():
    own, compilers = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + compilers.ru_utime + compilers.ru_stime
t, c = time.perf_counter(), cpu()
cost = th.function([x, y], fc, updates=[(t1, t1 - 0.1 * th.grad(fc, t1)),
                                        (t2, t2 - 0.1 * th.grad(fc, t2))])
print(json.dumps({{"seconds": time.perf_counter() - t, "cpu": cpu() - c}}))
"""


#: The XOR network, and another one (three layers) that primes a cache: it makes what
#: a machine compiles once whatever the graph (cgraph's C call path module and its
#: compiled templates; PyTensor's own C modules), not the XOR step's module.
XOR_NET = "layer(layer(x, t1), t2)"
PRIMING_NET = "layer(layer(layer(x, t1), th.shared(np.full((4, 3), 0.5))), t2)"


def run(lib: str, env: dict, net: str = XOR_NET) -> dict[str, float]:
    """The wall and CPU seconds of one `function(...)` in a new process."""
    out = subprocess.run([sys.executable, "-c", BUILD.format(lib=lib, net=net)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(backends: dict[str, tuple[str, str, dict]], repeats: int) -> dict:
    """For each backend (name -> (library, PyTensor's mode, more environment)), the
    median seconds cold, warm and cold in a primed cache, then the CPU seconds of cold
    and of cold in a primed cache; the backends take turns in each repeat (a busy
    machine disturbs them alike). A backend that fails is left out, with a note."""
    runs = {name: ([], [], []) for name in backends}
    for _ in range(repeats):
        for name, (lib, mode, extra_env) in backends.items():
            if name not in runs:
                continue
            try:
                _measure_once(lib, mode, extra_env, *runs[name])
            except subprocess.CalledProcessError as err:
                last = (err.stderr or "").strip().splitlines()[-1:]
                print(f"({name} failed: {' '.join(last)})")
                del runs[name]
    return {name: (*(statistics.median(r["seconds"] for r in got) for got in (cold, warm, primed)),
                   *(statistics.median(r["cpu"] for r in got) for got in (cold, primed)))
            for name, (cold, warm, primed) in runs.items()}


def _measure_once(lib: str, mode: str, extra_env: dict, cold: list, warm: list,
                  primed: list) -> None:
    for record in (cold, primed):
        with tempfile.TemporaryDirectory() as cache:
            flags = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS", ""),
                                           f"base_compiledir={cache},mode={mode}"]))
            env = dict(os.environ, CGRAPH_CACHE_DIR=cache, PYTENSOR_FLAGS=flags, **extra_env)
            if record is primed:
                run(lib, env, PRIMING_NET)
            record.append(run(lib, env))
            if record is cold:
                warm.append(run(lib, env))


def install_time_build(folder: str) -> float:
    """Run the install-time build into `folder` (as setup.py does, with a cache of its
    own); return its wall seconds."""
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cgraph.compile.prebuild", folder],
                       env=dict(os.environ, CGRAPH_CACHE_DIR=cache), check=True,
                       capture_output=True, text=True)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run, cgraph only")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory() as prebuilt:
        built = install_time_build(prebuilt)
        backends = {"cgraph": ("cgraph", "C", {"CGRAPH_PREBUILT": prebuilt}),
                    "cgraph, no install-time build": ("cgraph", "C", {"CGRAPH_PREBUILT": "off"})}
        if not args.quick and optional("pytensor") is not None:
            backends.update({f"pytensor {mode}": ("pytensor", mode, {})
                             for mode in ("C", "CVM")})
        results = measure(backends, repeats)
    print(f"(cgraph's install-time build, run once before: {built:.2f} s)\n")
    base_cold, base_warm, base_primed = results["cgraph"][:3]
    print("### Compile the XOR training step (new process)\n")
    print("| backend | cold (s) | warm (s) | cold, primed cache (s) | cold ratio | warm ratio "
          "| primed ratio | cold CPU (s) | primed CPU (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (cold, warm, primed, cold_cpu, primed_cpu) in results.items():
        print(f"| {name} | {cold:.3f} | {warm:.4f} | {primed:.3f} | {cold / base_cold:.2f}x "
              f"| {warm / base_warm:.2f}x | {primed / base_primed:.2f}x | {cold_cpu:.3f} "
              f"| {primed_cpu:.3f} |")


if __name__ == "__main__":
    run_main(main)
