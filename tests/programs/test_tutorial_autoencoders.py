"""The deeplearning.net denoising auto-encoder (tied weights, RandomStreams binomial
corruption) and contractive auto-encoder (the Jacobian penalty through reshapes), as
the tutorials write them: the costs of a few steps equal a numpy reference (the dA's
reference reads the corrupted input that the same call drew)."""

import numpy
from tutorial_layers import dA
from tutorial_numpy import cross_entropy, sigmoid

import cgraph as theano
import cgraph.tensor as T
from cgraph.tensor.shared_randomstreams import RandomStreams


class cA:
    def __init__(self, numpy_rng, input=None, n_visible=784, n_hidden=100, n_batchsize=1,
                 W=None, bhid=None, bvis=None):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        self.n_batchsize = n_batchsize
        if not W:
            initial_W = numpy.asarray(
                numpy_rng.uniform(low=-4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  high=4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  size=(n_visible, n_hidden)), dtype=theano.config.floatX)
            W = theano.shared(value=initial_W, name="W", borrow=True)
        if not bvis:
            bvis = theano.shared(value=numpy.zeros(n_visible, dtype=theano.config.floatX),
                                 borrow=True)
        if not bhid:
            bhid = theano.shared(value=numpy.zeros(n_hidden, dtype=theano.config.floatX),
                                 name="b", borrow=True)
        self.W = W
        self.b = bhid
        self.b_prime = bvis
        self.W_prime = self.W.T
        self.x = T.dmatrix(name="input") if input is None else input
        self.params = [self.W, self.b, self.b_prime]

    def get_hidden_values(self, input):
        return T.nnet.sigmoid(T.dot(input, self.W) + self.b)

    def get_jacobian(self, hidden, W):
        return T.reshape(hidden * (1 - hidden), (self.n_batchsize, 1, self.n_hidden)) * \
            T.reshape(W, (1, self.n_visible, self.n_hidden))

    def get_reconstructed_input(self, hidden):
        return T.nnet.sigmoid(T.dot(hidden, self.W_prime) + self.b_prime)

    def get_cost_updates(self, contraction_level, learning_rate):
        y = self.get_hidden_values(self.x)
        z = self.get_reconstructed_input(y)
        J = self.get_jacobian(y, self.W)
        self.L_rec = - T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        self.L_jacob = T.sum(J ** 2) / self.n_batchsize
        cost = T.mean(self.L_rec) + contraction_level * T.mean(self.L_jacob)
        gparams = T.grad(cost, self.params)
        updates = [(param, param - learning_rate * gparam)
                   for param, gparam in zip(self.params, gparams)]
        return cost, updates


data_rng = numpy.random.RandomState(3)
n_visible, n_hidden, batch_size, learning_rate = 16, 6, 10, 0.1
train_x = (data_rng.rand(3 * batch_size, n_visible) > 0.5).astype(float)
train_set_x = theano.shared(train_x, borrow=True)
index = T.lscalar()
x = T.matrix("x")


def numpy_autoencoder_step(params, xb, xin, contraction=0.0):
    """Cost and updated (W, b, b_prime) of a tied-weights auto-encoder fed `xin` (the
    corrupted input) and reconstructing xb, with the contractive penalty's weight."""
    W, b, b_prime = params
    h = sigmoid(xin @ W + b)
    a = h @ W.T + b_prime
    n = len(xb)
    a_h = h * (1 - h)
    penalty = (a_h ** 2).sum(axis=0) @ (W ** 2).sum(axis=0) / n
    cost = cross_entropy(xb, a).mean() + contraction * penalty
    d_a = (sigmoid(a) - xb) / n
    d_h = d_a @ W + contraction * 2 / n * a_h * (W ** 2).sum(axis=0) * (1 - 2 * h)
    d_z = d_h * a_h
    g_W = xin.T @ d_z + d_a.T @ h + contraction * 2 / n * (a_h ** 2).sum(axis=0) * W
    grads = [g_W, d_z.sum(axis=0), d_a.sum(axis=0)]
    return cost, [q - learning_rate * g for q, g in zip(params, grads)]


def test_denoising_autoencoder_costs_equal_numpy():
    rng = numpy.random.RandomState(123)
    da = dA(numpy_rng=rng, theano_rng=RandomStreams(rng.randint(2 ** 30)), input=x,
            n_visible=n_visible, n_hidden=n_hidden)
    params = [p.get_value().copy() for p in da.params]
    cost, updates = da.get_cost_updates(corruption_level=0.3, learning_rate=learning_rate)
    tilde_x = da.tilde_x
    train_da = theano.function([index], [cost, tilde_x], updates=updates,
                               givens={x: train_set_x[index * batch_size:
                                                      (index + 1) * batch_size]})
    kept = []
    for batch_index in range(3):
        xb = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
        got, corrupted = train_da(batch_index)
        assert set(numpy.unique(corrupted)) <= {0.0, 1.0} and numpy.all(corrupted <= xb)
        kept.append(corrupted.sum() / xb.sum())
        want, params = numpy_autoencoder_step(params, xb, corrupted)
        numpy.testing.assert_allclose(got, want, rtol=1e-10)
    for param, expected in zip(da.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    assert 0.5 < numpy.mean(kept) < 0.9  # about 1 - corruption_level of the ones kept


def test_contractive_autoencoder_costs_equal_numpy():
    rng = numpy.random.RandomState(123)
    ca = cA(numpy_rng=rng, input=x, n_visible=n_visible, n_hidden=n_hidden,
            n_batchsize=batch_size)
    params = [p.get_value().copy() for p in ca.params]
    cost, updates = ca.get_cost_updates(contraction_level=0.1, learning_rate=learning_rate)
    train_ca = theano.function([index], [T.mean(ca.L_rec), ca.L_jacob], updates=updates,
                               givens={x: train_set_x[index * batch_size:
                                                      (index + 1) * batch_size]})
    for batch_index in range(3):
        xb = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
        want, new_params = numpy_autoencoder_step(params, xb, xb, contraction=0.1)
        rec, jacob = train_ca(batch_index)
        numpy.testing.assert_allclose(rec + 0.1 * jacob, want, rtol=1e-10)
        params = new_params
    for param, expected in zip(ca.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
