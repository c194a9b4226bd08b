"""The deeplearning.net Elman RNN for slot filling: word embeddings looked up by context
windows, a `theano.scan` recurrence with a softmax per step (a (1, n) row for a
vector, as in Theano), the sentence NLL's gradient through time, and the embeddings'
normalization. Each sentence's NLL and the parameters equal a numpy BPTT reference."""

from collections import OrderedDict

import numpy
from tutorial_numpy import sigmoid, softmax

import cgraph as theano
import cgraph.tensor as T


class RNNSLU:
    def __init__(self, nh, nc, ne, de, cs):
        rng = numpy.random.RandomState(4321)

        def init(*shape):
            return theano.shared(0.2 * rng.uniform(-1.0, 1.0, shape)
                                 .astype(theano.config.floatX))

        self.emb = init(ne + 1, de)
        self.wx = init(de * cs, nh)
        self.wh = init(nh, nh)
        self.w = init(nh, nc)
        self.bh = theano.shared(numpy.zeros(nh, dtype=theano.config.floatX))
        self.b = theano.shared(numpy.zeros(nc, dtype=theano.config.floatX))
        self.h0 = theano.shared(numpy.zeros(nh, dtype=theano.config.floatX))
        self.params = [self.emb, self.wx, self.wh, self.w, self.bh, self.b, self.h0]

        idxs = T.imatrix()
        x = self.emb[idxs].reshape((idxs.shape[0], de * cs))
        y_sentence = T.ivector("y_sentence")

        def recurrence(x_t, h_tm1):
            h_t = T.nnet.sigmoid(T.dot(x_t, self.wx) + T.dot(h_tm1, self.wh) + self.bh)
            s_t = T.nnet.softmax(T.dot(h_t, self.w) + self.b)
            return [h_t, s_t]

        [h, s], _ = theano.scan(fn=recurrence, sequences=x, outputs_info=[self.h0, None],
                                n_steps=x.shape[0])
        p_y_given_x_sentence = s[:, 0, :]
        y_pred = T.argmax(p_y_given_x_sentence, axis=1)

        lr = T.scalar("lr")
        sentence_nll = -T.mean(T.log(p_y_given_x_sentence)[T.arange(x.shape[0]), y_sentence])
        sentence_gradients = T.grad(sentence_nll, self.params)
        sentence_updates = OrderedDict((p, p - lr * g)
                                       for p, g in zip(self.params, sentence_gradients))

        self.classify = theano.function(inputs=[idxs], outputs=y_pred)
        self.sentence_train = theano.function(inputs=[idxs, y_sentence, lr],
                                              outputs=sentence_nll, updates=sentence_updates)
        self.normalize = theano.function(
            inputs=[], updates={self.emb: self.emb / T.sqrt((self.emb ** 2).sum(axis=1))
                                .dimshuffle(0, "x")})


def contextwin(sentence, win):
    """Each word's window of `win` indexes, padded with -1 (the last embedding row)."""
    pad = win // 2 * [-1] + list(sentence) + win // 2 * [-1]
    return numpy.array([pad[i:i + win] for i in range(len(sentence))], dtype="int32")


def numpy_train(params, idxs, y, lr, de, cs):
    """The sentence NLL and the parameters after one step (BPTT), then normalized."""
    emb, wx, wh, w, bh, b, h0 = params
    n = len(y)
    x = emb[idxs].reshape(n, de * cs)
    hs, ps, h = [], [], h0
    for t in range(n):
        h = sigmoid(x[t] @ wx + h @ wh + bh)
        hs.append(h)
        ps.append(softmax(h @ w + b))
    p = numpy.array(ps)
    nll = -numpy.log(p[numpy.arange(n), y]).mean()
    d_logits = p.copy()
    d_logits[numpy.arange(n), y] -= 1
    d_logits /= n
    g = {name: numpy.zeros_like(v) for name, v in zip("emb wx wh w bh b h0".split(), params)}
    d_next = numpy.zeros_like(h0)
    for t in reversed(range(n)):
        g["w"] += numpy.outer(hs[t], d_logits[t])
        g["b"] += d_logits[t]
        d_a = (d_logits[t] @ w.T + d_next) * hs[t] * (1 - hs[t])
        h_prev = hs[t - 1] if t else h0
        g["wx"] += numpy.outer(x[t], d_a)
        g["wh"] += numpy.outer(h_prev, d_a)
        g["bh"] += d_a
        numpy.add.at(g["emb"], idxs[t], (d_a @ wx.T).reshape(cs, de))
        d_next = d_a @ wh.T
    g["h0"] = d_next
    new = [v - lr * g[name] for name, v in zip("emb wx wh w bh b h0".split(), params)]
    new[0] = new[0] / numpy.sqrt((new[0] ** 2).sum(axis=1))[:, None]
    return nll, new


def test_elman_rnn_sentence_training_equals_numpy():
    nh, nc, ne, de, cs, lr = 5, 3, 10, 4, 3, 0.5
    rnn = RNNSLU(nh=nh, nc=nc, ne=ne, de=de, cs=cs)
    params = [p.get_value().copy() for p in rnn.params]
    rng = numpy.random.RandomState(2)
    for _ in range(3):
        sentence = rng.randint(0, ne, size=6)
        labels = (sentence % nc).astype("int32")
        idxs = contextwin(sentence, cs)
        want, params = numpy_train(params, idxs, labels, lr, de, cs)
        numpy.testing.assert_allclose(rnn.sentence_train(idxs, labels, lr), want, rtol=1e-10)
        rnn.normalize()
    for param, expected in zip(rnn.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    emb, wx, wh, w, bh, b, h0 = params
    x = emb[idxs].reshape(len(idxs), de * cs)
    h, pred = h0, []
    for t in range(len(idxs)):
        h = sigmoid(x[t] @ wx + h @ wh + bh)
        pred.append((h @ w + b).argmax())
    numpy.testing.assert_array_equal(rnn.classify(idxs), pred)
