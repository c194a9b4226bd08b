"""The XOR tutorial's training, with the 40,000 steps run inside C by `Function.loop`.

Run: `python examples/xor_loop.py`. Prints the time of the Python loop and of the
C loop, and checks that both train the same weights, bit for bit; then the same C
loop in a module specialized to its shapes (`specialize=True`: compiled once, then
from the disk cache).
"""

import time

import numpy as np

import cgraph as theano
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet

x, y = T.dvector(), T.dscalar()


def layer(x, w):
    b = np.array([1], dtype=theano.config.floatX)
    return nnet.sigmoid(T.dot(w.T, T.concatenate([x, b])))


start1, start2 = np.random.rand(3, 3), np.random.rand(4, 1)
theta1, theta2 = theano.shared(start1.copy()), theano.shared(start2.copy())
out1 = T.sum(layer(layer(x, theta1), theta2))
fc = (out1 - y) ** 2
cost = theano.function(inputs=[x, y], outputs=fc, updates=[
    (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
    (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])
run_forward = theano.function(inputs=[x], outputs=out1)
inputs = np.array([[0, 1], [1, 0], [1, 1], [0, 0]]).reshape(4, 2)
exp_y = np.array([1, 1, 0, 0])

t = time.perf_counter()
for _ in range(10000):
    for k in range(len(inputs)):
        cost(inputs[k], exp_y[k])
python_seconds = time.perf_counter() - t
trained = theta1.get_value(), theta2.get_value()

theta1.set_value(start1.copy())
theta2.set_value(start2.copy())
t = time.perf_counter()
costs = cost.loop(inputs, exp_y, epochs=10000, record_every=2000)  # one C call
c_seconds = time.perf_counter() - t

print("cost every 2000 steps:", costs)
print(f"Python loop {python_seconds:.3f} s, Function.loop {c_seconds:.4f} s "
      f"({python_seconds / c_seconds:.0f}x)")
print("same weights, bit for bit:", all(np.array_equal(a, b) for a, b in
                                        zip(trained, (theta1.get_value(), theta2.get_value()))))
print("predictions:", [float(run_forward(inputs[k])) for k in range(4)])

theta1.set_value(start1.copy())
theta2.set_value(start2.copy())
cost.loop(inputs, exp_y, epochs=1, specialize=True)  # compiles (or loads) the module
theta1.set_value(start1.copy())
theta2.set_value(start2.copy())
t = time.perf_counter()
cost.loop(inputs, exp_y, epochs=10000, specialize=True)
special_seconds = time.perf_counter() - t
print(f"Function.loop(specialize=True) {special_seconds:.4f} s "
      f"({c_seconds / special_seconds:.1f}x the general loop), same weights:",
      all(np.array_equal(a, b) for a, b in
          zip(trained, (theta1.get_value(), theta2.get_value()))))
