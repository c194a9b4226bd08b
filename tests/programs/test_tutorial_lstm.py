"""The deeplearning.net LSTM sentiment model (lstm.py): word embeddings, an LSTM layer
written with `theano.scan` over masked sequences (sequences of different lengths padded
and masked by prepare_data), mean pooling, dropout drawn from RandomStreams, softmax,
L2 weight decay held in a shared variable, and adadelta whose accumulators are shared
variables updated by two functions (f_grad_shared stores the gradients, f_update
applies them), as the tutorial does. The costs of a few steps and the final parameters
equal a numpy BPTT reference that draws the same dropout masks."""

from collections import OrderedDict

import numpy
import pytest
from tutorial_numpy import sigmoid, softmax, stream_draw

import cgraph as theano
import cgraph.tensor as tensor
from cgraph import config
from cgraph.tensor.shared_randomstreams import RandomStreams

SEED = 123


def numpy_floatX(data):
    return numpy.asarray(data, dtype=config.floatX)


def _p(pp, name):
    return f"{pp}_{name}"


def ortho_weight(ndim):
    W = numpy.random.randn(ndim, ndim)
    u, s, v = numpy.linalg.svd(W)
    return u.astype(config.floatX)


def param_init_lstm(options, params, prefix="lstm"):
    W = numpy.concatenate([ortho_weight(options["dim_proj"]) for _ in range(4)], axis=1)
    params[_p(prefix, "W")] = W
    U = numpy.concatenate([ortho_weight(options["dim_proj"]) for _ in range(4)], axis=1)
    params[_p(prefix, "U")] = U
    b = numpy.zeros((4 * options["dim_proj"],))
    params[_p(prefix, "b")] = b.astype(config.floatX)
    return params


def init_params(options):
    params = OrderedDict()
    randn = numpy.random.rand(options["n_words"], options["dim_proj"])
    params["Wemb"] = (0.01 * randn).astype(config.floatX)
    params = param_init_lstm(options, params, prefix="lstm")
    params["U"] = 0.01 * numpy.random.randn(options["dim_proj"],
                                            options["ydim"]).astype(config.floatX)
    params["b"] = numpy.zeros((options["ydim"],)).astype(config.floatX)
    return params


def init_tparams(params):
    tparams = OrderedDict()
    for kk in params:
        tparams[kk] = theano.shared(params[kk], name=kk)
    return tparams


def lstm_layer(tparams, state_below, options, prefix="lstm", mask=None):
    nsteps = state_below.shape[0]
    if state_below.ndim == 3:
        n_samples = state_below.shape[1]
    else:
        n_samples = 1
    assert mask is not None

    def _slice(_x, n, dim):
        if _x.ndim == 3:
            return _x[:, :, n * dim:(n + 1) * dim]
        return _x[:, n * dim:(n + 1) * dim]

    def _step(m_, x_, h_, c_):
        preact = tensor.dot(h_, tparams[_p(prefix, "U")])
        preact += x_
        i = tensor.nnet.sigmoid(_slice(preact, 0, options["dim_proj"]))
        f = tensor.nnet.sigmoid(_slice(preact, 1, options["dim_proj"]))
        o = tensor.nnet.sigmoid(_slice(preact, 2, options["dim_proj"]))
        c = tensor.tanh(_slice(preact, 3, options["dim_proj"]))
        c = f * c_ + i * c
        c = m_[:, None] * c + (1. - m_)[:, None] * c_
        h = o * tensor.tanh(c)
        h = m_[:, None] * h + (1. - m_)[:, None] * h_
        return h, c

    state_below = (tensor.dot(state_below, tparams[_p(prefix, "W")])
                   + tparams[_p(prefix, "b")])
    dim_proj = options["dim_proj"]
    rval, updates = theano.scan(_step, sequences=[mask, state_below],
                                outputs_info=[tensor.alloc(numpy_floatX(0.), n_samples,
                                                           dim_proj),
                                              tensor.alloc(numpy_floatX(0.), n_samples,
                                                           dim_proj)],
                                name=_p(prefix, "_layers"), n_steps=nsteps)
    return rval[0]


def dropout_layer(state_before, use_noise, trng):
    return tensor.switch(use_noise,
                         (state_before * trng.binomial(state_before.shape, p=0.5, n=1,
                                                       dtype=state_before.dtype)),
                         state_before * 0.5)


def adadelta(lr, tparams, grads, x, mask, y, cost):
    zipped_grads = [theano.shared(p.get_value() * numpy_floatX(0.), name=f"{k}_grad")
                    for k, p in tparams.items()]
    running_up2 = [theano.shared(p.get_value() * numpy_floatX(0.), name=f"{k}_rup2")
                   for k, p in tparams.items()]
    running_grads2 = [theano.shared(p.get_value() * numpy_floatX(0.), name=f"{k}_rgrad2")
                      for k, p in tparams.items()]
    zgup = [(zg, g) for zg, g in zip(zipped_grads, grads)]
    rg2up = [(rg2, 0.95 * rg2 + 0.05 * (g ** 2)) for rg2, g in zip(running_grads2, grads)]
    f_grad_shared = theano.function([x, mask, y], cost, updates=zgup + rg2up,
                                    name="adadelta_f_grad_shared")
    updir = [-tensor.sqrt(ru2 + 1e-6) / tensor.sqrt(rg2 + 1e-6) * zg
             for zg, ru2, rg2 in zip(zipped_grads, running_up2, running_grads2)]
    ru2up = [(ru2, 0.95 * ru2 + 0.05 * (ud ** 2)) for ru2, ud in zip(running_up2, updir)]
    param_up = [(p, p + ud) for p, ud in zip(tparams.values(), updir)]
    f_update = theano.function([lr], [], updates=ru2up + param_up, on_unused_input="ignore",
                               name="adadelta_f_update")
    return f_grad_shared, f_update


def build_model(tparams, options):
    trng = RandomStreams(SEED)
    use_noise = theano.shared(numpy_floatX(0.))
    x = tensor.matrix("x", dtype="int64")
    mask = tensor.matrix("mask", dtype=config.floatX)
    y = tensor.vector("y", dtype="int64")
    n_timesteps = x.shape[0]
    n_samples = x.shape[1]
    emb = tparams["Wemb"][x.flatten()].reshape([n_timesteps, n_samples, options["dim_proj"]])
    proj = lstm_layer(tparams, emb, options, prefix="lstm", mask=mask)
    proj = (proj * mask[:, :, None]).sum(axis=0)
    proj = proj / mask.sum(axis=0)[:, None]
    if options["use_dropout"]:
        proj = dropout_layer(proj, use_noise, trng)
    pred = tensor.nnet.softmax(tensor.dot(proj, tparams["U"]) + tparams["b"])
    f_pred_prob = theano.function([x, mask], pred, name="f_pred_prob")
    f_pred = theano.function([x, mask], pred.argmax(axis=1), name="f_pred")
    off = 1e-8
    cost = -tensor.log(pred[tensor.arange(n_samples), y] + off).mean()
    return use_noise, x, mask, y, f_pred_prob, f_pred, cost


def prepare_data(seqs, labels):
    lengths = [len(s) for s in seqs]
    n_samples = len(seqs)
    maxlen = numpy.max(lengths)
    x = numpy.zeros((maxlen, n_samples)).astype("int64")
    x_mask = numpy.zeros((maxlen, n_samples)).astype(config.floatX)
    for idx, s in enumerate(seqs):
        x[:lengths[idx], idx] = s
        x_mask[:lengths[idx], idx] = 1.
    return x, x_mask, labels


def numpy_cost_grads(p, x, mask, y, decay_c, keep):
    """The cost and its gradients (a dict like p) of the model, by hand: the LSTM's
    forward pass, mean pooling, softmax and the backward pass through time. `keep`
    is the factor the dropout layer applies: its mask, or 0.5 without noise."""
    d = p["Wemb"].shape[1]
    T_, n = x.shape
    emb = p["Wemb"][x.flatten()].reshape(T_, n, d)
    xw = emb @ p["lstm_W"] + p["lstm_b"]
    h, c = numpy.zeros((n, d)), numpy.zeros((n, d))
    steps = []
    for t in range(T_):
        pre = h @ p["lstm_U"] + xw[t]
        i, f, o = (sigmoid(pre[:, k * d:(k + 1) * d]) for k in range(3))
        ct = numpy.tanh(pre[:, 3 * d:])
        m = mask[t][:, None]
        c_new = m * (f * c + i * ct) + (1 - m) * c
        h_new = m * (o * numpy.tanh(c_new)) + (1 - m) * h
        steps.append((h, c, i, f, o, ct, c_new, m))
        h, c = h_new, c_new
    hs = numpy.array([s[0] for s in steps[1:]] + [h])
    count = mask.sum(axis=0)[:, None]
    proj = (hs * mask[:, :, None]).sum(axis=0) / count * keep
    pred = softmax(proj @ p["U"] + p["b"])
    picked = pred[numpy.arange(n), y]
    cost = -numpy.log(picked + 1e-8).mean() + decay_c * (p["U"] ** 2).sum()
    d_pred = numpy.zeros_like(pred)
    d_pred[numpy.arange(n), y] = -1 / (n * (picked + 1e-8))
    d_logits = pred * (d_pred - (d_pred * pred).sum(axis=1, keepdims=True))
    g = {k: numpy.zeros_like(v) for k, v in p.items()}
    g["U"] = proj.T @ d_logits + 2 * decay_c * p["U"]
    g["b"] = d_logits.sum(axis=0)
    d_hs = (d_logits @ p["U"].T * keep / count)[None] * mask[:, :, None]
    d_h, d_c = numpy.zeros((n, d)), numpy.zeros((n, d))
    d_xw = numpy.zeros_like(xw)
    for t in reversed(range(T_)):
        h_prev, c_prev, i, f, o, ct, c_new, m = steps[t]
        d_h = d_h + d_hs[t]
        d_hn = m * d_h
        tc = numpy.tanh(c_new)
        d_o = d_hn * tc
        d_c = d_c + d_hn * o * (1 - tc ** 2)
        d_cn = m * d_c
        d_c_prev = (1 - m) * d_c + d_cn * f
        d_pre = numpy.concatenate([d_cn * ct * i * (1 - i), d_cn * c_prev * f * (1 - f),
                                   d_o * o * (1 - o), d_cn * i * (1 - ct ** 2)], axis=1)
        g["lstm_U"] += h_prev.T @ d_pre
        d_h = (1 - m) * d_h + d_pre @ p["lstm_U"].T
        d_c = d_c_prev
        d_xw[t] = d_pre
    g["lstm_W"] = emb.reshape(T_ * n, d).T @ d_xw.reshape(T_ * n, 4 * d)
    g["lstm_b"] = d_xw.sum(axis=(0, 1))
    numpy.add.at(g["Wemb"], x.flatten(), d_xw.reshape(T_ * n, 4 * d) @ p["lstm_W"].T)
    return cost, g


def numpy_adadelta(p, acc, grads):
    """One adadelta step: accumulators acc = (grad, up2, grad2) dicts, updated in place."""
    zg, ru2, rg2 = acc
    for k in p:
        zg[k] = grads[k]
        rg2[k] = 0.95 * rg2[k] + 0.05 * grads[k] ** 2
        ud = -numpy.sqrt(ru2[k] + 1e-6) / numpy.sqrt(rg2[k] + 1e-6) * zg[k]
        ru2[k] = 0.95 * ru2[k] + 0.05 * ud ** 2
        p[k] = p[k] + ud


@pytest.mark.slow  # the longest program (15-20 s on a busy machine)
def test_lstm_sentiment_adadelta_equals_numpy():
    options = dict(n_words=12, dim_proj=4, ydim=2, use_dropout=True, decay_c=1e-3)
    numpy.random.seed(SEED)
    params = init_params(options)
    tparams = init_tparams(params)
    (use_noise, x, mask, y, f_pred_prob, f_pred, cost) = build_model(tparams, options)
    decay_c = theano.shared(numpy_floatX(options["decay_c"]), name="decay_c")
    weight_decay = 0.
    weight_decay += (tparams["U"] ** 2).sum()
    weight_decay *= decay_c
    cost += weight_decay
    grads = tensor.grad(cost, wrt=list(tparams.values()))
    lr = tensor.scalar(name="lr")
    f_grad_shared, f_update = adadelta(lr, tparams, grads, x, mask, y, cost)

    ref = {k: v.copy() for k, v in params.items()}
    acc = tuple({k: numpy.zeros_like(v) for k, v in params.items()} for _ in range(3))
    rng = numpy.random.RandomState(7)
    (dropout_state,) = (v for v in f_grad_shared.get_shared()
                        if (v.name or "").startswith("rng_state"))
    for step in range(3):
        seqs = [rng.randint(1, options["n_words"], size=rng.randint(2, 6)) for _ in range(3)]
        labels = [int(s.sum() % 2) for s in seqs]
        xb, maskb, yb = prepare_data(seqs, labels)
        use_noise.set_value(1. if step else 0.)  # dropout draws, or a scaling by 0.5
        keep = stream_draw(dropout_state.get_value(), "binomial", 3 * options["dim_proj"], 1,
                           0.5).reshape(3, options["dim_proj"]) if step else 0.5
        want, want_grads = numpy_cost_grads(ref, xb, maskb, numpy.array(yb),
                                            options["decay_c"], keep)
        numpy.testing.assert_allclose(f_grad_shared(xb, maskb, yb), want, rtol=1e-10)
        if step == 0:  # the gradients that f_grad_shared stored in the shared variables
            for k in tparams:
                stored = next(v for v in f_grad_shared.get_shared() if v.name == f"{k}_grad")
                numpy.testing.assert_allclose(stored.get_value(), want_grads[k], rtol=1e-10,
                                              atol=1e-14)
        assert f_update(0.0001) == []
        numpy_adadelta(ref, acc, want_grads)
    for k, param in tparams.items():
        numpy.testing.assert_allclose(param.get_value(), ref[k], rtol=1e-10, atol=1e-14)
    use_noise.set_value(0.)
    probs = f_pred_prob(xb, maskb)
    numpy.testing.assert_array_equal(f_pred(xb, maskb), probs.argmax(axis=1))
    numpy.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
