"""Theano's logistic-regression tutorial as written there (the sigmoid by hand), on
saturated synthetic data: the cost of each step equals a stable numpy reference."""

import numpy
from tutorial_numpy import sigmoid, softplus

import cgraph as theano
import cgraph.tensor as T

rng = numpy.random.RandomState(1234)
N = 200
feats = 400
D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
training_steps = 6
w0 = rng.randn(feats)

x = T.dmatrix("x")
y = T.dvector("y")
w = theano.shared(w0.copy(), name="w")
b = theano.shared(0., name="b")

p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
prediction = p_1 > 0.5
xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
cost = xent.mean() + 0.01 * (w ** 2).sum()
gw, gb = T.grad(cost, [w, b])


def numpy_steps(x, y, w, b, steps, lr=0.1):
    costs = []
    for _ in range(steps):
        z = x @ w + b
        costs.append((y * softplus(-z) + (1 - y) * softplus(z)).mean())
        gz = (sigmoid(z) - y) / len(y)
        w, b = w - lr * (x.T @ gz + 0.02 * w), b - lr * gz.sum()
    return costs, w, b


def test_logistic_regression_trains_like_numpy():
    """Mode C, as a user runs it (mode PY runs the graph as written, without the
    rewrites: there the saturated log(1 - p_1) is -inf, and 0 * -inf NaN, as in IEEE)."""
    # compiled here, not when the file is imported (pytest imports every file to
    # collect it, a run of other tests too)
    train = theano.function(inputs=[x, y], outputs=[prediction, xent.mean()],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)
    assert numpy.abs(D[0] @ w0).max() > 40  # saturated: 1 - p_1 rounds to 0 in float64
    want, w_end, b_end = numpy_steps(D[0], D[1].astype(float), w0, 0.0, training_steps)
    for expected in want:
        pred, err = train(D[0], D[1])
        numpy.testing.assert_allclose(err, expected, rtol=1e-10)
    numpy.testing.assert_allclose(w.get_value(), w_end, rtol=1e-10)
    numpy.testing.assert_allclose(b.get_value(), b_end, rtol=1e-10, atol=1e-13)
    numpy.testing.assert_array_equal(predict(D[0]), D[0] @ w_end + b_end > 0)
