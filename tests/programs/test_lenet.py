"""The deeplearning.net LeNet tutorial (LeNetConvPoolLayer: conv2d, max pooling, tanh;
then a tanh HiddenLayer and LogisticRegression with the negative log-likelihood),
written as a Theano user writes it, trained by SGD on tiny synthetic images: each
minibatch cost and the final parameters equal a numpy reference of the same steps."""

import numpy
from tutorial_numpy import softmax

import cgraph as theano
import cgraph.tensor as T
from cgraph.tensor.nnet import conv2d
from cgraph.tensor.signal import pool


class LeNetConvPoolLayer:
    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2)):
        assert image_shape[1] == filter_shape[1]
        fan_in = numpy.prod(filter_shape[1:])
        fan_out = filter_shape[0] * numpy.prod(filter_shape[2:]) // numpy.prod(poolsize)
        W_bound = numpy.sqrt(6.0 / (fan_in + fan_out))
        self.W = theano.shared(numpy.asarray(rng.uniform(low=-W_bound, high=W_bound,
                                                         size=filter_shape),
                                             dtype="float64"), borrow=True)
        b_values = numpy.zeros((filter_shape[0],), dtype="float64")
        self.b = theano.shared(value=b_values, borrow=True)
        conv_out = conv2d(input=input, filters=self.W, filter_shape=filter_shape,
                          input_shape=image_shape)
        pooled_out = pool.pool_2d(input=conv_out, ws=poolsize, ignore_border=True)
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


class HiddenLayer:
    def __init__(self, rng, input, n_in, n_out, activation=T.tanh):
        bound = numpy.sqrt(6.0 / (n_in + n_out))
        self.W = theano.shared(numpy.asarray(rng.uniform(-bound, bound, (n_in, n_out)),
                                             dtype="float64"), name="W", borrow=True)
        self.b = theano.shared(numpy.zeros((n_out,), dtype="float64"), name="b", borrow=True)
        self.output = activation(T.dot(input, self.W) + self.b)
        self.params = [self.W, self.b]


class LogisticRegression:
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(numpy.zeros((n_in, n_out), dtype="float64"), name="W")
        self.b = theano.shared(numpy.zeros((n_out,), dtype="float64"), name="b")
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])


data_rng = numpy.random.RandomState(5)
batch_size, n_batches, nkerns, n_hidden, n_out = 4, 3, (3, 4), 10, 3
train_x = data_rng.rand(batch_size * n_batches, 1 * 14 * 14)
train_y = (train_x[:, :3 * 14].reshape(-1, 3, 14).sum(axis=2)).argmax(axis=1)
train_set_x = theano.shared(train_x, borrow=True)
train_set_y = T.cast(theano.shared(train_y.astype("float64")), "int32")
learning_rate = 0.2

index = T.lscalar()
x = T.matrix("x")
y = T.ivector("y")
rng = numpy.random.RandomState(23455)
layer0_input = x.reshape((batch_size, 1, 14, 14))
layer0 = LeNetConvPoolLayer(rng, input=layer0_input, image_shape=(batch_size, 1, 14, 14),
                            filter_shape=(nkerns[0], 1, 5, 5), poolsize=(2, 2))
layer1 = LeNetConvPoolLayer(rng, input=layer0.output, image_shape=(batch_size, nkerns[0], 5, 5),
                            filter_shape=(nkerns[1], nkerns[0], 2, 2), poolsize=(2, 2))
layer2 = HiddenLayer(rng, input=layer1.output.flatten(2), n_in=nkerns[1] * 2 * 2,
                     n_out=n_hidden, activation=T.tanh)
layer3 = LogisticRegression(input=layer2.output, n_in=n_hidden, n_out=n_out)
cost = layer3.negative_log_likelihood(y)
params = layer3.params + layer2.params + layer1.params + layer0.params
grads = T.grad(cost, params)
updates = [(param_i, param_i - learning_rate * grad_i)
           for param_i, grad_i in zip(params, grads)]
start = [p.get_value().copy() for p in params]


# --------------------------------------------------------------------------- numpy


def conv_forward(x, w):
    """Theano's conv2d, border 'valid': a true convolution (the filters flipped)."""
    f, _, kh, kw = w.shape
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    wf = w[:, :, ::-1, ::-1]
    out = numpy.zeros((x.shape[0], f, oh, ow))
    for i in range(kh):
        for j in range(kw):
            out += numpy.einsum("nchw,fc->nfhw", x[:, :, i:i + oh, j:j + ow], wf[:, :, i, j])
    return out


def conv_backward(x, w, d_out):
    f, _, kh, kw = w.shape
    oh, ow = d_out.shape[2:]
    wf = w[:, :, ::-1, ::-1]
    dx, dwf = numpy.zeros(x.shape), numpy.zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + oh, j:j + ow] += numpy.einsum("nfhw,fc->nchw", d_out, wf[:, :, i, j])
            dwf[:, :, i, j] = numpy.einsum("nchw,nfhw->fc", x[:, :, i:i + oh, j:j + ow], d_out)
    return dx, dwf[:, :, ::-1, ::-1]


def max_pool(x):
    """2x2 windows, the odd last row/column dropped (ignore_border=True)."""
    n, c, h, w = x.shape
    blocks = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
    return blocks.max(axis=(3, 5)), blocks


def max_pool_backward(x, blocks, pooled, d_pooled):
    hit = blocks == pooled[:, :, :, None, :, None]
    dx = numpy.zeros(x.shape)
    n, c, h, w = x.shape
    dx[:, :, :h // 2 * 2, :w // 2 * 2] = (hit * d_pooled[:, :, :, None, :, None]).reshape(
        n, c, h // 2 * 2, w // 2 * 2)
    return dx


def numpy_step(p, xb, yb):
    W3, b3, W2, b2, K1, c1, K0, c0 = p
    a0 = xb.reshape(batch_size, 1, 14, 14)
    z0 = conv_forward(a0, K0)
    m0, blocks0 = max_pool(z0)
    h0 = numpy.tanh(m0 + c0[None, :, None, None])
    z1 = conv_forward(h0, K1)
    m1, blocks1 = max_pool(z1)
    h1 = numpy.tanh(m1 + c1[None, :, None, None])
    flat = h1.reshape(batch_size, -1)
    h2 = numpy.tanh(flat @ W2 + b2)
    prob = softmax(h2 @ W3 + b3)
    n = len(yb)
    cost = -numpy.log(prob[numpy.arange(n), yb]).mean()
    d_logits = prob.copy()
    d_logits[numpy.arange(n), yb] -= 1
    d_logits /= n
    d_h2 = d_logits @ W3.T * (1 - h2 ** 2)
    d_flat = d_h2 @ W2.T
    d_m1 = d_flat.reshape(h1.shape) * (1 - h1 ** 2)
    d_z1 = max_pool_backward(z1, blocks1, m1, d_m1)
    d_h0, dK1 = conv_backward(h0, K1, d_z1)
    d_m0 = d_h0 * (1 - h0 ** 2)
    d_z0 = max_pool_backward(z0, blocks0, m0, d_m0)
    _, dK0 = conv_backward(a0, K0, d_z0)
    g = [h2.T @ d_logits, d_logits.sum(axis=0), flat.T @ d_h2, d_h2.sum(axis=0),
         dK1, d_m1.sum(axis=(0, 2, 3)), dK0, d_m0.sum(axis=(0, 2, 3))]
    return cost, [q - learning_rate * gq for q, gq in zip(p, g)]


def test_lenet_sgd_steps_equal_numpy():
    # compiled here, not when the file is imported (pytest imports every file to
    # collect it, a run of other tests too)
    train_model = theano.function(
        [index], cost, updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size],
                y: train_set_y[index * batch_size: (index + 1) * batch_size]})
    p = [v.copy() for v in start]
    costs = []
    for _epoch in range(6):
        for minibatch_index in range(n_batches):
            rows = slice(minibatch_index * batch_size, (minibatch_index + 1) * batch_size)
            want, p = numpy_step(p, train_x[rows], train_y[rows])
            got = train_model(minibatch_index)
            numpy.testing.assert_allclose(got, want, rtol=1e-10)
            costs.append(got)
    for param, expected in zip(params, p):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-12)
    assert sum(costs[-n_batches:]) < sum(costs[:n_batches])  # it learns
