"""The deeplearning.net RBM tutorial: Gibbs sampling with `theano.scan` and
RandomStreams binomial draws whose p is a tensor, CD-k with `consider_constant`, and
persistent CD with the pseudo-likelihood cost (a shared bit index in the updates).
Each step's monitoring cost and parameters equal a numpy reference computed from the
samples the same call drew, and modes C and PY draw the same samples."""

import numpy
from tutorial_numpy import cross_entropy, sigmoid, softplus

import cgraph as theano
import cgraph.tensor as T
from cgraph.tensor.shared_randomstreams import RandomStreams


class RBM:
    def __init__(self, input=None, n_visible=784, n_hidden=500, W=None, hbias=None,
                 vbias=None, numpy_rng=None, theano_rng=None):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        if numpy_rng is None:
            numpy_rng = numpy.random.RandomState(1234)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        if W is None:
            initial_W = numpy.asarray(
                numpy_rng.uniform(low=-4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  high=4 * numpy.sqrt(6. / (n_hidden + n_visible)),
                                  size=(n_visible, n_hidden)), dtype=theano.config.floatX)
            W = theano.shared(value=initial_W, name="W", borrow=True)
        if hbias is None:
            hbias = theano.shared(value=numpy.zeros(n_hidden, dtype=theano.config.floatX),
                                  name="hbias", borrow=True)
        if vbias is None:
            vbias = theano.shared(value=numpy.zeros(n_visible, dtype=theano.config.floatX),
                                  name="vbias", borrow=True)
        self.input = input if input else T.matrix("input")
        self.W = W
        self.hbias = hbias
        self.vbias = vbias
        self.theano_rng = theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v_sample):
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def propup(self, vis):
        pre_sigmoid_activation = T.dot(vis, self.W) + self.hbias
        return [pre_sigmoid_activation, T.nnet.sigmoid(pre_sigmoid_activation)]

    def sample_h_given_v(self, v0_sample):
        pre_sigmoid_h1, h1_mean = self.propup(v0_sample)
        h1_sample = self.theano_rng.binomial(size=h1_mean.shape, n=1, p=h1_mean,
                                             dtype=theano.config.floatX)
        return [pre_sigmoid_h1, h1_mean, h1_sample]

    def propdown(self, hid):
        pre_sigmoid_activation = T.dot(hid, self.W.T) + self.vbias
        return [pre_sigmoid_activation, T.nnet.sigmoid(pre_sigmoid_activation)]

    def sample_v_given_h(self, h0_sample):
        pre_sigmoid_v1, v1_mean = self.propdown(h0_sample)
        v1_sample = self.theano_rng.binomial(size=v1_mean.shape, n=1, p=v1_mean,
                                             dtype=theano.config.floatX)
        return [pre_sigmoid_v1, v1_mean, v1_sample]

    def gibbs_hvh(self, h0_sample):
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_sigmoid_v1, v1_mean, v1_sample, pre_sigmoid_h1, h1_mean, h1_sample]

    def get_cost_updates(self, lr=0.1, persistent=None, k=1):
        pre_sigmoid_ph, ph_mean, ph_sample = self.sample_h_given_v(self.input)
        chain_start = ph_sample if persistent is None else persistent
        ([pre_sigmoid_nvs, nv_means, nv_samples, pre_sigmoid_nhs, nh_means, nh_samples],
         updates) = theano.scan(self.gibbs_hvh,
                                outputs_info=[None, None, None, None, None, chain_start],
                                n_steps=k, name="gibbs_hvh")
        chain_end = nv_samples[-1]
        cost = T.mean(self.free_energy(self.input)) - T.mean(self.free_energy(chain_end))
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * T.cast(lr, dtype=theano.config.floatX)
        if persistent:
            updates[persistent] = nh_samples[-1]
            monitoring_cost = self.get_pseudo_likelihood_cost(updates)
        else:
            monitoring_cost = self.get_reconstruction_cost(updates, pre_sigmoid_nvs[-1])
        self.samples = [chain_start, nh_samples, chain_end]
        return monitoring_cost, updates

    def get_pseudo_likelihood_cost(self, updates):
        bit_i_idx = theano.shared(value=0, name="bit_i_idx")
        xi = T.round(self.input)
        fe_xi = self.free_energy(xi)
        xi_flip = T.set_subtensor(xi[:, bit_i_idx], 1 - xi[:, bit_i_idx])
        fe_xi_flip = self.free_energy(xi_flip)
        cost = T.mean(self.n_visible * T.log(T.nnet.sigmoid(fe_xi_flip - fe_xi)))
        updates[bit_i_idx] = (bit_i_idx + 1) % self.n_visible
        return cost

    def get_reconstruction_cost(self, updates, pre_sigmoid_nv):
        cross_entropy = T.mean(
            T.sum(self.input * T.log(T.nnet.sigmoid(pre_sigmoid_nv))
                  + (1 - self.input) * T.log(1 - T.nnet.sigmoid(pre_sigmoid_nv)), axis=1))
        return cross_entropy


data_rng = numpy.random.RandomState(5)
n_visible, n_hidden, batch_size, lr = 12, 8, 10, 0.1
train_x = (data_rng.rand(3 * batch_size, n_visible) > 0.6).astype(float)
train_set_x = theano.shared(train_x, borrow=True)


def free_energy(v, params):
    W, hb, vb = params
    return -softplus(v @ W + hb).sum(axis=1) - v @ vb


def numpy_update(params, x, chain_end):
    """The parameters after one CD step from the data and the chain's end."""
    W, hb, vb = params
    n = len(x)
    p_data, p_model = sigmoid(x @ W + hb), sigmoid(chain_end @ W + hb)
    grads = [(chain_end.T @ p_model - x.T @ p_data) / n, (p_model - p_data).mean(axis=0),
             (chain_end - x).mean(axis=0)]
    return [q - lr * g for q, g in zip(params, grads)]


def train(rbm, cost, updates, mode):
    index = T.lscalar()
    return theano.function([index], [cost, *rbm.samples], updates=updates, mode=mode,
                           givens={rbm.input: train_set_x[index * batch_size:
                                                          (index + 1) * batch_size]})


def run_cd(k, mode):
    rbm = RBM(n_visible=n_visible, n_hidden=n_hidden,
              numpy_rng=numpy.random.RandomState(123))
    params = [p.get_value().copy() for p in rbm.params]
    cost, updates = rbm.get_cost_updates(lr=lr, persistent=None, k=k)
    train_rbm = train(rbm, cost, updates, mode)
    draws = []
    for batch_index in range(3):
        x = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
        got, chain_start, nh_samples, chain_end = train_rbm(batch_index)
        draws.append(chain_end)
        assert set(numpy.unique(nh_samples)) <= {0.0, 1.0}
        assert set(numpy.unique(chain_end)) <= {0.0, 1.0}
        h_last = chain_start if k == 1 else nh_samples[-2]
        pre = h_last @ params[0].T + params[2]
        numpy.testing.assert_allclose(got, -cross_entropy(x, pre).mean(), rtol=1e-10)
        params = numpy_update(params, x, chain_end)
    for param, expected in zip(rbm.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    return draws


def test_rbm_contrastive_divergence_equals_numpy_and_c_draws_as_py():
    c_draws = run_cd(2, "C")
    py_draws = run_cd(2, "PY")
    for c, py in zip(c_draws, py_draws):
        numpy.testing.assert_array_equal(c, py)


def test_rbm_persistent_chain_and_pseudo_likelihood():
    rbm = RBM(n_visible=n_visible, n_hidden=n_hidden, numpy_rng=numpy.random.RandomState(9))
    persistent_chain = theano.shared(numpy.zeros((batch_size, n_hidden),
                                                 dtype=theano.config.floatX), borrow=True)
    params = [p.get_value().copy() for p in rbm.params]
    cost, updates = rbm.get_cost_updates(lr=lr, persistent=persistent_chain, k=1)
    train_rbm = train(rbm, cost, updates, "C")
    for batch_index in range(3):
        x = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
        chain_before = persistent_chain.get_value().copy()
        got, chain_start, nh_samples, chain_end = train_rbm(batch_index)
        numpy.testing.assert_array_equal(chain_start, chain_before)
        numpy.testing.assert_array_equal(persistent_chain.get_value(), nh_samples[-1])
        flipped = x.copy()
        flipped[:, batch_index] = 1 - flipped[:, batch_index]
        fe_gap = free_energy(flipped, params) - free_energy(x, params)
        numpy.testing.assert_allclose(got, (-n_visible * softplus(-fe_gap)).mean(),
                                      rtol=1e-10)
        params = numpy_update(params, x, chain_end)
    for param, expected in zip(rbm.params, params):
        numpy.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
