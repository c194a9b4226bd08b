"""The deeplearning.net MLP tutorial (HiddenLayer + LogisticRegression, softmax and the
negative log-likelihood, L1 and L2 terms, minibatches through `givens`) on synthetic
data: the minibatch costs equal a numpy reference step by step."""

import numpy
from tutorial_layers import HiddenLayer, LogisticRegression
from tutorial_numpy import softmax

import cgraph as theano
import cgraph.tensor as T


class MLP:
    def __init__(self, rng, input, n_in, n_hidden, n_out):
        self.hiddenLayer = HiddenLayer(rng=rng, input=input, n_in=n_in, n_out=n_hidden,
                                       activation=T.tanh)
        self.logRegressionLayer = LogisticRegression(input=self.hiddenLayer.output,
                                                     n_in=n_hidden, n_out=n_out)
        self.L1 = abs(self.hiddenLayer.W).sum() + abs(self.logRegressionLayer.W).sum()
        self.L2_sqr = (self.hiddenLayer.W ** 2).sum() + (self.logRegressionLayer.W ** 2).sum()
        self.negative_log_likelihood = self.logRegressionLayer.negative_log_likelihood
        self.errors = self.logRegressionLayer.errors
        self.params = self.hiddenLayer.params + self.logRegressionLayer.params
        self.input = input


def shared_dataset(data_xy, borrow=True):
    data_x, data_y = data_xy
    shared_x = theano.shared(numpy.asarray(data_x, dtype=theano.config.floatX), borrow=borrow)
    shared_y = theano.shared(numpy.asarray(data_y, dtype=theano.config.floatX), borrow=borrow)
    return shared_x, T.cast(shared_y, "int32")


data_rng = numpy.random.RandomState(7)
n_in, n_hidden, n_out, n_samples = 12, 9, 4, 60
train_x = data_rng.rand(n_samples, n_in)
train_y = (train_x[:, :n_out] * [1, 2, 3, 4]).argmax(axis=1)
learning_rate, L1_reg, L2_reg, batch_size = 0.1, 0.00, 0.0001, 20

train_set_x, train_set_y = shared_dataset((train_x, train_y))
n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

index = T.lscalar()
x = T.matrix("x")
y = T.ivector("y")
rng = numpy.random.RandomState(1234)
classifier = MLP(rng=rng, input=x, n_in=n_in, n_hidden=n_hidden, n_out=n_out)
W1_0 = classifier.hiddenLayer.W.get_value().copy()

cost = (classifier.negative_log_likelihood(y) + L1_reg * classifier.L1
        + L2_reg * classifier.L2_sqr)
gparams = [T.grad(cost, param) for param in classifier.params]
updates = [(param, param - learning_rate * gparam)
           for param, gparam in zip(classifier.params, gparams)]


def numpy_step(params, xb, yb):
    """The minibatch cost and the updated parameters."""
    W1, b1, W2, b2 = params
    h = numpy.tanh(xb @ W1 + b1)
    p = softmax(h @ W2 + b2)
    n = len(yb)
    cost = (-numpy.log(p[numpy.arange(n), yb]).mean()
            + L2_reg * ((W1 ** 2).sum() + (W2 ** 2).sum()))
    d_logits = p.copy()
    d_logits[numpy.arange(n), yb] -= 1
    d_logits /= n
    d_h = d_logits @ W2.T * (1 - h ** 2)
    grads = [xb.T @ d_h + 2 * L2_reg * W1, d_h.sum(axis=0),
             h.T @ d_logits + 2 * L2_reg * W2, d_logits.sum(axis=0)]
    return cost, [q - learning_rate * g for q, g in zip(params, grads)]


def test_mlp_minibatch_costs_equal_numpy():
    # compiled here, not when the file is imported (pytest imports every file to
    # collect it, a run of other tests too)
    train_model = theano.function(
        inputs=[index], outputs=cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size],
                y: train_set_y[index * batch_size: (index + 1) * batch_size]})
    validate_model = theano.function(
        inputs=[index], outputs=classifier.errors(y),
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size],
                y: train_set_y[index * batch_size: (index + 1) * batch_size]})
    params = [W1_0, numpy.zeros(n_hidden), numpy.zeros((n_hidden, n_out)), numpy.zeros(n_out)]
    for _epoch in range(2):
        for minibatch_index in range(n_train_batches):
            rows = slice(minibatch_index * batch_size, (minibatch_index + 1) * batch_size)
            want, params = numpy_step(params, train_x[rows], train_y[rows])
            numpy.testing.assert_allclose(train_model(minibatch_index), want, rtol=1e-10)
    for param, expected in zip(classifier.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    W1, b1, W2, b2 = params
    pred = (numpy.tanh(train_x[:batch_size] @ W1 + b1) @ W2 + b2).argmax(axis=1)
    numpy.testing.assert_allclose(validate_model(0), (pred != train_y[:batch_size]).mean())
