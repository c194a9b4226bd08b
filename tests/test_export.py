"""export_c: the XOR training step and a small MLP as standalone C, built with
-Wall -Wextra -Werror -std=c11, run from a C program, equal to the Python calls."""

from __future__ import annotations

import re
import subprocess
import textwrap

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet

INPUTS = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
TARGETS = np.array([1.0, 1.0, 0.0, 0.0])


def build(folder, name: str, program: str) -> list[str]:
    """make the library, compile `program` against it, run it; its output lines."""
    subprocess.run(["make", "-s", "EXTRA_CFLAGS=-Wall -Wextra -Werror"], cwd=folder, check=True,
                   capture_output=True, text=True)
    (folder / "main.c").write_text(textwrap.dedent(program))
    # The libraries the Makefile links (BLAS when the function has matrix products).
    ldlibs = re.search(r"^LDLIBS =(.*)$", (folder / "Makefile").read_text(), re.M).group(1)
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "main.c", f"lib{name}.a",
                    *ldlibs.split(), "-lm", "-o", "main"], cwd=folder, check=True,
                   capture_output=True, text=True)
    proc = subprocess.run(["./main"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout.split()


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


def test_xor_training_step_exported(tmp_path):
    cost, theta1, theta2 = xor_step()
    folder = cgraph.export_c(cost, tmp_path / "xor", name="xor_net", input_shapes=[(2,), ()])
    assert {"xor_net.c", "xor_net.h", "Makefile", "README.md", "cgraph.h"} <= {
        p.name for p in folder.iterdir()}
    out = build(folder, "xor_net", """
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
    out = build(folder, "mlp", f"""
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
    out = build(folder, "plain", f"""
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
