"""Helpers shared by the test files: `from helpers import MODES, rng_for, ...`.

The test files sit in folders that mirror the package (tests/graph, tests/tensor, ...)
and are not a package: pytest puts this folder on `sys.path` when it loads
tests/conftest.py, so every test file, and a child pytest run on one of them, imports
this module by name. Test basenames are unique across the tree.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np

#: The checkout (the folder holding `cgraph/`, `tests/`, `README.md`).
REPO = Path(__file__).resolve().parents[1]

#: The tests folder (this module's folder).
TESTS = Path(__file__).resolve().parent

#: The two modes a function runs in: compiled C, and the numpy references (PY).
MODES = ("C", "PY")


def rng_for(*key: object) -> np.random.Generator:
    """A generator seeded by `key`: the same draws in every run (unlike hash())."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def reference(inputs, outputs, **kwargs):
    """The unrewritten graph (optimizer 'None') compiled in mode PY, the numpy references."""
    import cgraph

    with cgraph.config.change_flags(optimizer="None"):
        return cgraph.function(inputs, outputs, mode="PY", **kwargs)


def assert_same_draws(c, py, err_msg: str = "") -> None:
    """Random draws of modes C and PY from the same uniforms: integer draws equal,
    floating ones to the last bits. Mode C's log, cos and exp are libm's; numpy's
    dispatch to SIMD versions where the CPU has them (AVX-512: a few units in the last
    place from libm's), so floating draws agree to about 1e-15 relative (1e-14 near a
    zero), exactly only where numpy runs scalar code."""
    c, py = np.asarray(c), np.asarray(py)
    assert c.dtype == py.dtype and c.shape == py.shape, err_msg
    if c.dtype.kind in "iub":
        np.testing.assert_array_equal(c, py, err_msg=err_msg)
    else:
        np.testing.assert_allclose(c, py, rtol=1e-12, atol=1e-14, err_msg=err_msg)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with `extra` set and the checkout first on PYTHONPATH,
    for a child process that imports this checkout's cgraph."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def gcc_runtime(name: str) -> str:
    """The path gcc gives for the library `name` (the bare name when gcc has none)."""
    out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True)
    return out.stdout.strip()


@functools.cache
def sanitizer_runtimes() -> list[str]:
    """gcc's AddressSanitizer and UBSan runtimes (to preload), or [] when not installed."""
    libs = [gcc_runtime("libasan.so"), gcc_runtime("libubsan.so")]
    return libs if all(os.path.isabs(p) and os.path.exists(p) for p in libs) else []


def run_json_child(script: str, cache: Path, timeout: float = 120) -> dict:
    """Run `script` in a new Python process with its own cache folder (and a random hash
    seed, so nothing may depend on id() or hash order); return the JSON of its last
    printed line."""
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(cache), PYTHONHASHSEED="random")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def find_test_file(name: str) -> Path:
    """The path of the test file called `name` (e.g. "test_ops.py") anywhere under tests/;
    basenames are unique, so there is exactly one."""
    found = sorted(TESTS.rglob(name))
    assert len(found) == 1, f"expected one tests/**/{name}, found {found}"
    return found[0]


def import_test_module(name: str):
    """The test module `name` (e.g. "test_ops") from any folder of tests/: the one pytest
    already imported under that name, else imported from its folder."""
    if name not in sys.modules:
        folder = str(find_test_file(name + ".py").parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return importlib.import_module(name)


def run_make(folder: Path, *targets: str) -> None:
    """`make` in `folder` (an exported function's) with warnings as errors; a failure
    shows the compiler's output."""
    proc = subprocess.run(["make", "-s", "EXTRA_CFLAGS=-Wall -Wextra -Werror",
                           f"PYTHON={sys.executable}", *targets], cwd=folder,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def build_exported(folder: Path, name: str, program: str) -> list[str]:
    """Make the exported library in `folder`, compile the C `program` against it with the
    Makefile's own rule and run it; its output split into words. (`name` names the
    function the program calls, for the reader of a failure.)"""
    run_make(folder)
    (folder / "main.c").write_text(textwrap.dedent(program))
    run_make(folder, "main")
    proc = subprocess.run(["./main"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, f"{name}: " + proc.stderr + proc.stdout
    return proc.stdout.split()


def cli(*args: str, cache: Path, timeout: float = 120, **env: str
        ) -> subprocess.CompletedProcess:
    """`python -m cgraph *args` in a child process using the cache folder `cache`, with
    `env` added to this process's environment."""
    full = dict(os.environ, CGRAPH_CACHE_DIR=str(cache), **env)
    return subprocess.run([sys.executable, "-m", "cgraph", *args], env=full,
                          capture_output=True, text=True, timeout=timeout)


def cli_output(*args: str, cache: Path, timeout: float = 120, **env: str) -> str:
    """The standard output of `cli(...)`, which must succeed (else its stderr is shown)."""
    proc = cli(*args, cache=cache, timeout=timeout, **env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# --------------------------------------------------------------------------- codegen
# Lowering and plans without a compiler (tests/codegen): graphs are lowered from a
# FunctionGraph, which copies the variables; name them (`called`) to find the copies.


def lowered(inputs, outputs, update_of=None):
    """`cgraph.codegen.lower` of a FunctionGraph of `inputs` and `outputs` (no compile)."""
    from cgraph.codegen import lower
    from cgraph.graph.fg import FunctionGraph

    return lower(FunctionGraph(inputs, outputs), update_of)


def called(**variables) -> None:
    """Name the variables, to find their copies in the lowered graph (`var_named`)."""
    for name, v in variables.items():
        v.name = name


def var_named(low, name: str):
    """The variable called `name` in the lowered (copied) graph."""
    found = [v for v in [*low.fgraph.inputs, *(o for n in low.nodes for o in n.outputs)]
             if v.name == name]
    assert len(found) == 1, (name, found)
    return found[0]


def decls_of(low, kind=None) -> list:
    """The Program's declarations (of one `kind`: "arg", "const", "buffer", ...)."""
    return [d for d in low.program.decls if kind is None or d.kind == kind]


def plan_block(low, plan, name: str) -> tuple[object, list[int]]:
    """The slots (`Slots`) and the plan values of the kernel computing the variable
    called `name`."""
    node = var_named(low, name).owner
    kernel = low.kernels[id(node)]
    start = low.kernel_slots[id(node)]
    return kernel.layout.slots(start), [int(v) for v in
                                       plan.params[start:start + kernel.nparams]]


def plan_offset(low, plan, name: str) -> int:
    """The workspace offset (or view offset) P holds for the variable called `name`."""
    return int(plan.params[low.slots[id(var_named(low, name))]])


def aligned(nbytes: int) -> int:
    """`nbytes` rounded up to the workspace alignment (cgraph.codegen.plan.ALIGN)."""
    from cgraph.codegen.plan import ALIGN

    return -(-nbytes // ALIGN) * ALIGN


# --------------------------------------------------------------------------- gradients


def verify_grad_cases(cases: dict, mode: str | None = None, rng=None) -> None:
    """`cgraph.gradient.verify_grad` of each case of `cases` (label -> (fun, points)),
    with ONE compiled module for all of them in mode C instead of two per case.

    As verify_grad does it: each case's output is projected on a random direction to
    make the case's cost, its symbolic gradient is compared with central differences of
    that cost at the same eps and per-element tolerances (float32 points: looser). Each
    case keeps inputs and a cost of its own (one summed cost would round each case's
    differences to the size of the others), so the check is that of the case alone. In
    mode PY (nothing to compile) verify_grad runs case by case. A failure names the case.
    """
    import cgraph
    from cgraph.gradient import (
        GradientError,
        compare_gradients,
        grad,
        numeric_grad,
        verify_grad,
    )
    from cgraph.tensor import TensorType

    rng = rng or np.random.default_rng(42)
    if mode == "PY":
        for label, (fun, points) in cases.items():
            try:
                verify_grad(fun, points, mode=mode, rng=rng)
            except GradientError as e:
                raise GradientError(f"{label}: {e}") from e
        return
    checks, variables, values, costs, grads = [], [], [], [], []
    for label, (fun, points) in cases.items():
        pts = [np.asarray(p) for p in points]
        xs = [TensorType(p.dtype, tuple(1 if n == 1 else None for n in p.shape)
                         ).make_variable(f"{label}{i}") for i, p in enumerate(pts)]
        out = fun(*xs)
        shape = np.shape(cgraph.function(xs, out, mode="PY", on_unused_input="ignore")(*pts))
        cost = (out * rng.uniform(-1, 1, size=shape).astype(out.dtype)).sum()
        checks.append((label, pts, len(variables), len(costs)))
        variables += xs
        values += pts
        costs.append(cost)
        grads += grad(cost, xs, disconnected_inputs="ignore")
    f = cgraph.function(variables, costs + grads, mode=mode, on_unused_input="ignore")
    symbolic = f(*values)[len(costs):]
    for label, pts, first, k in checks:
        f32 = any(p.dtype == np.float32 for p in pts)
        eps, tol = (1e-3, 1e-2) if f32 else (1e-6, 1e-6)

        def cost_of_case(*args, pts=pts, first=first, k=k):
            vals = list(values)
            vals[first:first + len(pts)] = [a.astype(p.dtype) for a, p in zip(args, pts)]
            return float(f(*vals)[k])

        numeric = numeric_grad(cost_of_case, pts, eps)
        compare_gradients(symbolic[first:first + len(pts)], numeric, tol, tol, label)


#: A child process that runs a Gemm (`w += 0.5 * dot(a, y)`) and a Dot (`dot(a, y)`)
#: kernel once with memory, then under an address-space limit of 16 MB above what it
#: holds, and prints both results' relative errors; `{a}` is the graph's left operand
#: (`x` or a view of it), `{av}` the same of the value, `{setup}` sets k, the shapes
#: and the expectations' comments.
MEMORY_SHORT_PRODUCT = """
import resource, numpy as np, cgraph, cgraph.tensor as T
{setup}
w = cgraph.shared(np.zeros(w_shape), name="w")
x, y = T.dmatrix("x"), T.dmatrix("y")
f = cgraph.function([x, y], [], updates=[(w, w + 0.5 * T.dot({a}, y))])  # a Gemm kernel
g = cgraph.function([x, y], T.dot({a}, y))  # a Dot kernel
rng = np.random.default_rng(0)
xv, yv = rng.uniform(-1, 1, x_shape), rng.uniform(-1, 1, y_shape)
want = 0.5 * {av} @ yv
f(xv, yv)
g(xv, yv)
vm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize")][0]
resource.setrlimit(resource.RLIMIT_AS, (vm + 16 * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))
f(xv, yv)  # no room for the copy: the generated loop
print(np.abs(g(xv, yv) - 2 * want).max() / np.abs(want).max())
print(np.abs(w.get_value() - 2 * want).max() / np.abs(want).max())
"""


def assert_products_survive_short_memory(setup: str, a: str = "x", av: str = "xv") -> None:
    """Run MEMORY_SHORT_PRODUCT: both products must be right with and without memory
    for their copies. One malloc arena: a thread's arena has its 64 MB already in the
    address space."""
    script = MEMORY_SHORT_PRODUCT.format(setup=textwrap.dedent(setup), a=a, av=av)
    env = {**os.environ, "MALLOC_ARENA_MAX": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert all(float(line) < 1e-12 for line in proc.stdout.strip().splitlines()[-2:])


def assert_sgd_update_in_place(key: str, rows: int, cols: int, batch: int = 128) -> None:
    """W -= 0.1 * x.T @ g (a Gemm(-lr, 1) on W, `rows` x `cols`) as a shared variable's
    update, twice: written into W's own storage, equal to numpy's."""
    import cgraph
    import cgraph.tensor as T

    w = cgraph.shared(rng_for(key).uniform(-1, 1, (rows, cols)), name="W")
    x, g = T.dmatrix("x"), T.dmatrix("g")
    f = cgraph.function([x, g], [], updates=[(w, w - 0.1 * T.dot(x.T, g))])
    storage, start = w.get_value(borrow=True), w.get_value()
    xv = rng_for(key, 1).uniform(-1, 1, (batch, rows))
    gv = rng_for(key, 2).uniform(-1, 1, (batch, cols))
    f(xv, gv)
    f(xv, gv)
    assert w.get_value(borrow=True) is storage
    np.testing.assert_allclose(w.get_value(), start - 0.2 * xv.T @ gv, rtol=1e-12, atol=1e-12)


def assert_gemm_alpha_beta(key: str, dtype: str, sizes, tolerance: dict) -> None:
    """Gemm(alpha, beta)(a.T, b, c) for several alpha and beta, and with c a bias row
    broadcast, against numpy for each (m, k, n) of `sizes`."""
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.blas_ops import Gemm

    A, B, C = (T.matrix(name, dtype=dtype) for name in "ABC")
    cases = [(1.0, 0.0), (1.0, 1.0), (-0.1, 1.0), (2.0, -0.5), (0.5, 0.0)]
    fns = {ab: cgraph.function([A, B, C], Gemm(*ab)(A.T, B, C)) for ab in cases}
    bias = cgraph.function([A, B, C], Gemm(1.0, 1.0)(A.T, B, C[0]))  # c broadcast
    rng = rng_for(key, dtype)
    for m, k, n in sizes:
        a, b = rng.uniform(-1, 1, (k, m)).astype(dtype), rng.uniform(-1, 1, (k, n)).astype(dtype)
        c = rng.uniform(-1, 1, (m, n)).astype(dtype)
        for (alpha, beta), f in fns.items():
            want = np.asarray(alpha, dtype) * (a.T @ b) + np.asarray(beta, dtype) * c
            np.testing.assert_allclose(f(a, b, c), want, err_msg=f"{alpha} {beta} {m}x{k}x{n}",
                                       **tolerance)
        np.testing.assert_allclose(bias(a, b, c), a.T @ b + c[0], **tolerance)


def assert_layout_products(layout: tuple, key: str, dtype: str, sizes, tolerance: dict) -> None:
    """a @ b of the views `layout` = (views, shapes) makes of arrays of shapes(m, k, n),
    compiled once, against numpy for each (m, k, n) of `sizes`."""
    import cgraph
    import cgraph.tensor as T

    views, shapes = layout
    A, B = T.matrix("A", dtype=dtype), T.matrix("B", dtype=dtype)
    f = cgraph.function([A, B], T.dot(*views(A, B)))
    rng = rng_for(key, dtype)
    for m, k, n in sizes:
        a, b = (rng.uniform(-1, 1, shape).astype(dtype) for shape in shapes(m, k, n))
        va, vb = views(a, b)
        assert va.shape == (m, k) and vb.shape == (k, n)
        np.testing.assert_allclose(f(a, b), va @ vb, err_msg=f"{key} {m}x{k}x{n}", **tolerance)
