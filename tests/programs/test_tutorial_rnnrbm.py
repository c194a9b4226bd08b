"""Boulanger-Lewandowski's RNN-RBM (the deeplearning.net rnnrbm.py): an RNN whose
hidden state gives each time step's RBM biases, trained with CD-15 (a `theano.scan`
Gibbs chain over the whole sequence, `consider_constant` on the chain's end, the
free-energy gradient back through the recurrence, the `xlogy0` monitor), and the
generator (a scan whose step runs an inner Gibbs scan and returns its updates) built
alongside. A few training calls equal a numpy BPTT reference that draws the same
samples (the streams' numpy generator, fed the streams' states before the call)."""

import numpy
from tutorial_numpy import StreamTwin, sigmoid

import cgraph as theano
import cgraph.tensor as T
from cgraph.tensor.shared_randomstreams import RandomStreams

numpy.random.seed(0xbeef)
rng = RandomStreams(seed=numpy.random.randint(1 << 30))


def build_rbm(v, W, bv, bh, k):
    def gibbs_step(v):
        mean_h = T.nnet.sigmoid(T.dot(v, W) + bh)
        h = rng.binomial(size=mean_h.shape, n=1, p=mean_h, dtype=theano.config.floatX)
        mean_v = T.nnet.sigmoid(T.dot(h, W.T) + bv)
        v = rng.binomial(size=mean_v.shape, n=1, p=mean_v, dtype=theano.config.floatX)
        return mean_v, v

    chain, updates = theano.scan(lambda v: gibbs_step(v)[1], outputs_info=[v], n_steps=k)
    v_sample = chain[-1]
    mean_v = gibbs_step(v_sample)[0]
    monitor = T.xlogx.xlogy0(v, mean_v) + T.xlogx.xlogy0(1 - v, 1 - mean_v)
    monitor = monitor.sum() / v.shape[0]

    def free_energy(v):
        return -(v * bv).sum() - T.log(1 + T.exp(T.dot(v, W) + bh)).sum()
    cost = (free_energy(v) - free_energy(v_sample)) / v.shape[0]
    return v_sample, cost, monitor, updates


def shared_normal(num_rows, num_cols, scale=1):
    return theano.shared(numpy.random.normal(scale=scale, size=(num_rows, num_cols))
                         .astype(theano.config.floatX))


def shared_zeros(*shape):
    return theano.shared(numpy.zeros(shape, dtype=theano.config.floatX))


def build_rnnrbm(n_visible, n_hidden, n_hidden_recurrent):
    W = shared_normal(n_visible, n_hidden, 0.01)
    bv = shared_zeros(n_visible)
    bh = shared_zeros(n_hidden)
    Wuh = shared_normal(n_hidden_recurrent, n_hidden, 0.0001)
    Wuv = shared_normal(n_hidden_recurrent, n_visible, 0.0001)
    Wvu = shared_normal(n_visible, n_hidden_recurrent, 0.0001)
    Wuu = shared_normal(n_hidden_recurrent, n_hidden_recurrent, 0.0001)
    bu = shared_zeros(n_hidden_recurrent)
    params = W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu
    v = T.matrix()
    u0 = T.zeros((n_hidden_recurrent,))

    def recurrence(v_t, u_tm1):
        bv_t = bv + T.dot(u_tm1, Wuv)
        bh_t = bh + T.dot(u_tm1, Wuh)
        generate = v_t is None
        if generate:
            v_t, _, _, updates = build_rbm(T.zeros((n_visible,)), W, bv_t, bh_t, k=25)
        u_t = T.tanh(bu + T.dot(v_t, Wvu) + T.dot(u_tm1, Wuu))
        return ([v_t, u_t], updates) if generate else [u_t, bv_t, bh_t]

    (u_t, bv_t, bh_t), updates_train = theano.scan(
        lambda v_t, u_tm1, *_: recurrence(v_t, u_tm1), sequences=v,
        outputs_info=[u0, None, None], non_sequences=params)
    v_sample, cost, monitor, updates_rbm = build_rbm(v, W, bv_t[:], bh_t[:], k=15)
    updates_train.update(updates_rbm)

    (v_t, u_t), updates_generate = theano.scan(
        lambda u_tm1, *_: recurrence(None, u_tm1), outputs_info=[None, u0],
        non_sequences=params, n_steps=200)
    return (v, v_sample, cost, monitor, params, updates_train, v_t, updates_generate)


class RnnRbm:
    def __init__(self, n_hidden=150, n_hidden_recurrent=100, lr=0.001, r=(21, 109), dt=0.3):
        self.r = r
        self.dt = dt
        (v, v_sample, cost, monitor, params, updates_train, v_t,
         updates_generate) = build_rnnrbm(r[1] - r[0], n_hidden, n_hidden_recurrent)
        self.params = params
        gradient = T.grad(cost, params, consider_constant=[v_sample])
        updates_train.update(((p, p - lr * g) for p, g in zip(params, gradient)))
        self.train_function = theano.function([v], monitor, updates=updates_train)
        self.generate_function = theano.function([], v_t, updates=updates_generate)

    def train(self, dataset, batch_size=100):
        costs = []
        for sequence in dataset:
            for i in range(0, len(sequence), batch_size):
                costs.append(self.train_function(sequence[i:i + batch_size]))
        return costs


def numpy_train_step(params, v, streams, k, lr):
    """The monitor and the parameters after one CD-k step on the sequence v (n, visible),
    drawing from the twins of the chain's two streams and the monitor's stream."""
    W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu = params
    n = len(v)
    u_prev, u_out, u = [], [], numpy.zeros(len(bu))
    for v_t in v:
        u_prev.append(u)
        u = numpy.tanh(bu + v_t @ Wvu + u @ Wuu)
        u_out.append(u)
    u_prev = numpy.array(u_prev)
    bv_t, bh_t = bv + u_prev @ Wuv, bh + u_prev @ Wuh
    chain_h, chain_v, monitor_h = (StreamTwin(s.get_value()) for s in streams)
    vs = v
    for _ in range(k):
        h = chain_h.binomial(sigmoid(vs @ W + bh_t))
        vs = chain_v.binomial(sigmoid(h @ W.T + bv_t))
    mean_v = sigmoid(monitor_h.binomial(sigmoid(vs @ W + bh_t)) @ W.T + bv_t)
    monitor = numpy.where(v == 1, numpy.log(mean_v), numpy.log(1 - mean_v)).sum() / n
    p_data, p_model = sigmoid(v @ W + bh_t), sigmoid(vs @ W + bh_t)
    g_bv_t, g_bh_t = (vs - v) / n, (p_model - p_data) / n
    g_Wvu, g_Wuu, g_bu = numpy.zeros_like(Wvu), numpy.zeros_like(Wuu), numpy.zeros_like(bu)
    d_u = numpy.zeros_like(bu)  # the gradient of u[t]: u[n - 1] feeds nothing
    for t in reversed(range(n)):
        d_a = d_u * (1 - u_out[t] ** 2)
        g_bu += d_a
        g_Wvu += numpy.outer(v[t], d_a)
        g_Wuu += numpy.outer(u_prev[t], d_a)
        d_u = g_bv_t[t] @ Wuv.T + g_bh_t[t] @ Wuh.T + d_a @ Wuu.T
    grads = [(vs.T @ p_model - v.T @ p_data) / n, g_bv_t.sum(axis=0), g_bh_t.sum(axis=0),
             u_prev.T @ g_bh_t, u_prev.T @ g_bv_t, g_Wvu, g_Wuu, g_bu]
    return monitor, [p - lr * g for p, g in zip(params, grads)]


def test_rnnrbm_training_steps_equal_numpy():
    numpy.random.seed(42)
    model = RnnRbm(n_hidden=6, n_hidden_recurrent=5, lr=0.1, r=(21, 29))
    # the piano rolls: binary (time, pitch) sequences, cut into batches of time steps
    data_rng = numpy.random.RandomState(3)
    dataset = [(data_rng.rand(8, 8) < 0.3).astype(theano.config.floatX) for _ in range(2)]
    # the streams: the chain's h and v draws, then the monitor's h draw (its v draw is
    # unused), then the generator's
    streams = rng.state_updates[:3]
    for p in model.params[3:7]:  # the recurrent weights, at 3e-1 rather than 1e-4, so
        p.set_value(p.get_value() * 3000)  # that their gradients through time matter
    params = initial = [p.get_value() for p in model.params]
    costs = []
    for sequence in dataset:
        for i in range(0, len(sequence), 4):
            want, params = numpy_train_step(params, sequence[i:i + 4], streams, 15, 0.1)
            costs.append(want)
            got = model.train([sequence[i:i + 4]], batch_size=4)
            numpy.testing.assert_allclose(got, [want], rtol=1e-10)
    for param, expected in zip(model.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    for before, after in zip(initial, params):
        assert numpy.abs(after - before).max() > 1e-5  # every one trained
    rolls = model.generate_function()
    assert rolls.shape == (200, 8) and set(numpy.unique(rolls)) <= {0.0, 1.0}
