"""Export the XOR tutorial's training step as a standalone C library and run it from C.

Run: `python examples/export_c/export_xor.py` (needs gcc and make). Writes `xor_net/`
next to this file (`xor_net.c`, `xor_net.h`, the runtime headers, a Makefile, a README),
then `make main` there builds the library and compiles `main.c` against it, linked with
the OpenBLAS of scipy-openblas32 (see README.md), and `./main` runs 10000 epochs of
training in plain C.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import cgraph as theano
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet

HERE = Path(__file__).resolve().parent

x, y = T.dvector("x"), T.dscalar("y")


def layer(x, w):
    b = np.array([1], dtype=theano.config.floatX)
    return nnet.sigmoid(T.dot(w.T, T.concatenate([x, b])))


theta1 = theano.shared(np.random.rand(3, 3), name="theta1")
theta2 = theano.shared(np.random.rand(4, 1), name="theta2")
fc = (T.sum(layer(layer(x, theta1), theta2)) - y) ** 2
cost = theano.function([x, y], fc, updates=[
    (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
    (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])

out = theano.export_c(cost, HERE / "xor_net", name="xor_net", input_shapes=[(2,), ()])
shutil.copyfile(HERE / "main.c", out / "main.c")
# PYTHON: the interpreter the Makefile asks where scipy-openblas32 is installed.
subprocess.run(["make", "-s", "main", f"PYTHON={sys.executable}"], cwd=out, check=True)
subprocess.run(["./main"], cwd=out, check=True)
