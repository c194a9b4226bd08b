"""export_c: the XOR training step and a small MLP as standalone C, built with
-Wall -Wextra -Werror -std=c11, run from a C program, equal to the Python calls;
variable names that collide with the library's C; the example's documented command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, build_exported

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet

INPUTS = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
TARGETS = np.array([1.0, 1.0, 0.0, 0.0])


def xor_step():
    rng = np.random.default_rng(3)
    x, y = T.dvector("x"), T.dscalar("y")

    def layer(x, w):
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, np.array([1.0])])))

    theta1 = cgraph.shared(rng.random((3, 3)), name="theta1")
    theta2 = cgraph.shared(rng.random((4, 1)), name="theta2")
    fc = (T.sum(layer(layer(x, theta1), theta2)) - y) ** 2
    cost = cgraph.function([x, y], fc, updates=[
        (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
        (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])
    return cost, theta1, theta2


@pytest.mark.slow
def test_xor_training_step_exported(tmp_path):
    cost, theta1, theta2 = xor_step()
    folder = cgraph.export_c(cost, tmp_path / "xor", name="xor_net", input_shapes=[(2,), ()])
    assert {"xor_net.c", "xor_net.h", "Makefile", "README.md", "cgraph.h"} <= {
        p.name for p in folder.iterdir()}
    out = build_exported(folder, "xor_net", """
        #include <stdio.h>
        #include "xor_net.h"
        int main(void) {
            const double X[4][2] = {{0, 1}, {1, 0}, {1, 1}, {0, 0}};
            const double Y[4] = {1, 1, 0, 0};
            char err[XOR_NET_ERRBUF];
            xor_net_state s;
            if (xor_net_init(&s)) return 1;
            for (int epoch = 0; epoch < 50; ++epoch)
                for (int k = 0; k < 4; ++k) {
                    double c;
                    if (xor_net_step(&s, X[k], &Y[k], &c, err)) { puts(err); return 2; }
                    printf("%.17g\\n", c);
                }
            for (int i = 0; i < XOR_NET_THETA1_SIZE; ++i)
                printf("%.17g\\n", xor_net_theta1(&s)[i]);
            xor_net_free(&s);
            return 0;
        }
    """)
    costs = [float(cost(INPUTS[k], TARGETS[k])) for _ in range(50) for k in range(4)]
    got = np.array(out, dtype=float)
    np.testing.assert_array_equal(got[:200], costs)  # same C, same flags: bitwise
    np.testing.assert_array_equal(got[200:], theta1.get_value().reshape(-1))


@pytest.mark.slow
def test_mlp_with_minibatch_exported(tmp_path):
    rng = np.random.default_rng(0)
    W1 = cgraph.shared(rng.standard_normal((5, 8)) * 0.3, name="W1")
    W2 = cgraph.shared(rng.standard_normal((8, 3)) * 0.3, name="W2")
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    h = T.tanh(T.dot(X, W1))
    loss = T.mean((T.dot(h, W2) - Y) ** 2)
    gW1, gW2 = cgraph.grad(loss, [W1, W2])
    step = cgraph.function([X, Y], [loss, h.sum()],
                           updates=[(W1, W1 - 0.1 * gW1), (W2, W2 - 0.1 * gW2)])
    xs, ys = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    step(xs, ys)  # the export takes the shapes of the calls made so far
    W1.set_value(W1.get_value() * 0 + rng.standard_normal((5, 8)) * 0.3)
    folder = cgraph.export_c(step, tmp_path / "mlp", name="mlp")
    data = ", ".join(repr(float(v)) for v in np.concatenate([xs.ravel(), ys.ravel()]))
    out = build_exported(folder, "mlp", f"""
        #include <stdio.h>
        #include "mlp.h"
        int main(void) {{
            const double d[] = {{ {data} }};
            char err[MLP_ERRBUF];
            mlp_state s;
            double loss, hsum;
            if (mlp_init(&s)) return 1;
            for (int i = 0; i < 5; ++i) {{
                if (mlp_step(&s, d, d + 20, &loss, &hsum, err)) {{ puts(err); return 2; }}
                printf("%.17g %.17g\\n", loss, hsum);
            }}
            mlp_free(&s);
            return 0;
        }}
    """)
    want = [float(v) for _ in range(5) for v in step(xs, ys)]
    np.testing.assert_array_equal(np.array(out, dtype=float), want)


def test_export_needs_shapes_and_c_mode(tmp_path):
    x = T.dvector("x")
    f = cgraph.function([x], x * 2)
    with pytest.raises(ValueError, match="input_shapes"):
        cgraph.export_c(f, tmp_path)
    with pytest.raises(ValueError, match="C identifier"):
        cgraph.export_c(f, tmp_path, name="not-valid", input_shapes=[(3,)])
    with pytest.raises(ValueError, match="mode 'C'"):
        cgraph.export_c(cgraph.function([x], x * 2, mode="PY"), tmp_path)


def test_stateless_function_exported_warning_clean(tmp_path):
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x) * 2.0 + x)
    folder = cgraph.export_c(f, tmp_path / "plain", name="plain", input_shapes=[(3,)])
    header = (folder / "plain.h").read_text()
    step = re.search(r"int plain_step\(([^)]*)\)", header).group(1)
    out_name = step.split(",")[2].split("*")[-1].strip()
    out = build_exported(folder, "plain", f"""
        #include <stdio.h>
        #include "plain.h"
        int main(void) {{
            const double x[3] = {{0.5, -1.0, 2.0}};
            double {out_name}[3];
            char err[PLAIN_ERRBUF];
            plain_state s;
            if (plain_init(&s)) return 1;
            if (plain_step(&s, x, {out_name}, err)) {{ puts(err); return 2; }}
            for (int i = 0; i < 3; ++i) printf("%.17g\\n", {out_name}[i]);
            plain_free(&s);
            return 0;
        }}
    """)
    data = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(np.array(out, dtype=float), f(data))


# Input names and what the export calls them: the step's own names (s, err, rc), an
# output's (out0), C keywords, libc macros, reserved prefixes, a case-only difference.
INPUT_NAMES = {"s": "s_", "err": "err_", "rc": "rc_", "out0": "out0_", "int": "int_",
               "for": "for_", "static": "static_", "errno": "errno_", "NULL": "NULL_",
               "EOF": "v_EOF", "stdout": "stdout_", "linux": "linux_", "int64_t": "int64_t_",
               "cg_x": "v_cg_x", "_hidden": "v__hidden", "names_P": "names_P_", "M_PI": "v_M_PI",
               "step": "step", "free": "free", "x": "x", "X": "X_"}
# Shared variables name accessors `names_<name>`: the library's own names are renamed.
SHARED_NAMES = {"init": "init_", "free": "free_", "step": "step_", "state": "state_",
                "P": "P_", "const_0": "const_0_", "double": "double", "s": "s"}


def colliding_names_function():
    rng = np.random.default_rng(5)
    xs = [T.dvector(n) for n in INPUT_NAMES]
    shared = [cgraph.shared(rng.standard_normal(3), name=n) for n in SHARED_NAMES]
    total = sum((k + 1) * v for k, v in enumerate(xs))
    W = cgraph.shared(rng.standard_normal((3, 3)), name="W")
    h = T.tanh(T.dot(W, total))
    outs = [h, T.sum(h * shared[0]) + T.sum(shared[-1])]
    updates = [(v, v - 0.01 * (k + 1) * h) for k, v in enumerate(shared)]
    f = cgraph.function(xs, outs, updates=updates)
    return f, [rng.standard_normal(3) for _ in xs], shared


@pytest.mark.slow
def test_names_colliding_with_the_library_are_renamed(tmp_path):
    f, args, shared = colliding_names_function()
    folder = cgraph.export_c(f, tmp_path / "names", name="names",
                             input_shapes=[(3,)] * len(args))
    header = (folder / "names.h").read_text()
    params = re.search(r"int names_step\(names_state \*s(.*?)\);", header, re.S).group(1)
    got = [p.split("*")[-1].strip() for p in params.split(",")[1:]]
    assert got == [*INPUT_NAMES.values(), "out0", "out1", "err"]
    assert '(the variable "int", renamed: a C keyword)' in header
    for name in SHARED_NAMES.values():
        assert f"double *names_{name}(names_state *s);" in header
        assert f"#define NAMES_{name.upper()}_SIZE 3\n" in header
    data = ", ".join(repr(float(v)) for a in args for v in a)
    n = len(args)
    reads = "".join(f'print(names_{name}(&st), NAMES_{name.upper()}_SIZE);\n'
                    for name in SHARED_NAMES.values())
    # The user's program includes the C library first, as programs do.
    out = build_exported(folder, "names", f"""
        #include <errno.h>
        #include <math.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include "names.h"
        static void print(const double *v, int n) {{
            for (int i = 0; i < n; ++i) printf("%.17g\\n", v[i]);
        }}
        int main(void) {{
            const double d[] = {{ {data} }};
            char err[NAMES_ERRBUF];
            double h[3], o1;
            names_state st;
            if (names_init(&st)) return 1;
            for (int step = 0; step < 3; ++step) {{
                if (names_step(&st, {", ".join(f"d + {3 * k}" for k in range(n))},
                               h, &o1, err)) {{ puts(err); return 2; }}
                print(h, 3);
                print(&o1, 1);
            }}
            {reads}
            names_free(&st);
            return 0;
        }}
    """)
    want = []
    for _ in range(3):
        h, o1 = f(*args)
        want += [*h, float(o1)]
    want += [v for s in shared for v in s.get_value()]
    np.testing.assert_array_equal(np.array(out, dtype=float), want)


ROOT = REPO


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="the example runs make")
def test_export_example_documented_command(tmp_path):
    """examples/export_c/README.md's command, in a copy of the checkout's example."""
    command = re.search(r"```sh\n(.*?)\n```", (ROOT / "examples/export_c/README.md")
                        .read_text(), re.S).group(1)
    assert command == "python examples/export_c/export_xor.py"
    shutil.copytree(ROOT / "examples/export_c", tmp_path / "examples/export_c",
                    ignore=shutil.ignore_patterns("xor_net"))
    proc = subprocess.run([sys.executable, *command.split()[1:]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    costs = re.findall(r"^epoch +(\d+) +cost (\S+)$", proc.stdout, re.M)
    assert [int(e) for e, _ in costs] == [0, 2000, 4000, 6000, 8000]
    final = float(re.search(r"^final cost (\S+)$", proc.stdout, re.M).group(1))
    assert 0 <= final <= 1  # a squared error of a sigmoid against 0 or 1
    # The BLAS library is found through the rpath, without LD_LIBRARY_PATH.
    program = tmp_path / "examples/export_c/xor_net/main"
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    assert subprocess.run([str(program)], env=env, capture_output=True).returncode == 0
