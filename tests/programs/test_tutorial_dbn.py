"""The deeplearning.net deep belief net (DBN.py): sigmoid layers whose weights and
hidden biases the RBM layers share, RBMs pretrained greedily with CD-1 (a
`theano.scan` Gibbs chain drawing from MRG_RandomStreams, `In(learning_rate,
value=0.1)`), then fine-tuning with a softmax layer through `givens`. Each cost and
the final parameters equal a numpy reference that draws the same samples (the
streams' numpy generator, fed the streams' states before the call)."""

import numpy
import pytest
from test_tutorial_rbm import RBM, numpy_update
from tutorial_layers import HiddenLayer, LogisticRegression, shared_dataset
from tutorial_numpy import check_finetuning, cross_entropy, sigmoid, stream_draw

import cgraph as theano
import cgraph.tensor as T
from cgraph.sandbox.rng_mrg import MRG_RandomStreams


class DBN:
    def __init__(self, numpy_rng, theano_rng=None, n_ins=784, hidden_layers_sizes=(500, 500),
                 n_outs=10):
        self.sigmoid_layers = []
        self.rbm_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)
        assert self.n_layers > 0
        if not theano_rng:
            theano_rng = MRG_RandomStreams(numpy_rng.randint(2 ** 30))
        self.x = T.matrix("x")
        self.y = T.ivector("y")
        for i in range(self.n_layers):
            input_size = n_ins if i == 0 else hidden_layers_sizes[i - 1]
            layer_input = self.x if i == 0 else self.sigmoid_layers[-1].output
            sigmoid_layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=input_size,
                                        n_out=hidden_layers_sizes[i],
                                        activation=T.nnet.sigmoid)
            self.sigmoid_layers.append(sigmoid_layer)
            self.params.extend(sigmoid_layer.params)
            rbm_layer = RBM(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                            n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                            W=sigmoid_layer.W, hbias=sigmoid_layer.b)
            self.rbm_layers.append(rbm_layer)
        self.logLayer = LogisticRegression(input=self.sigmoid_layers[-1].output,
                                           n_in=hidden_layers_sizes[-1], n_out=n_outs)
        self.params.extend(self.logLayer.params)
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        self.errors = self.logLayer.errors(self.y)

    def pretraining_functions(self, train_set_x, batch_size, k):
        index = T.lscalar("index")
        learning_rate = T.scalar("lr")
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        pretrain_fns = []
        for rbm in self.rbm_layers:
            cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)
            fn = theano.function(inputs=[index, theano.In(learning_rate, value=0.1)],
                                 outputs=cost, updates=updates,
                                 givens={self.x: train_set_x[batch_begin:batch_end]})
            pretrain_fns.append(fn)
        return pretrain_fns

    def build_finetune_functions(self, datasets, batch_size, learning_rate):
        (train_set_x, train_set_y) = datasets[0]
        index = T.lscalar("index")
        gparams = T.grad(self.finetune_cost, self.params)
        updates = []
        for param, gparam in zip(self.params, gparams):
            updates.append((param, param - gparam * learning_rate))
        train_fn = theano.function(
            inputs=[index], outputs=self.finetune_cost, updates=updates,
            givens={self.x: train_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: train_set_y[index * batch_size: (index + 1) * batch_size]})
        return train_fn


def bernoulli(state, p):
    """The MRG binomial's sample (uniform < p) that the stream with this state draws."""
    return (stream_draw(state, "uniform", p.size, 0., 1.).reshape(p.shape) < p).astype(float)


@pytest.mark.slow  # the longest program (15-20 s on a busy machine)
def test_dbn_pretraining_and_finetuning_equal_numpy():
    data_rng = numpy.random.RandomState(21)
    n_ins, sizes, n_outs, batch_size = 10, [8, 6], 3, 5
    train_x = (data_rng.rand(15, n_ins) > 0.5).astype(float)
    train_y = (train_x[:, :n_outs] * [1, 2, 3]).argmax(axis=1)
    datasets = [shared_dataset((train_x, train_y))]
    numpy_rng = numpy.random.RandomState(123)
    dbn = DBN(numpy_rng=numpy_rng, n_ins=n_ins, hidden_layers_sizes=sizes, n_outs=n_outs)
    ref = [p.get_value().copy() for p in dbn.params]
    ref_vbias = [r.vbias.get_value().copy() for r in dbn.rbm_layers]

    pretraining_fns = dbn.pretraining_functions(train_set_x=datasets[0][0],
                                                batch_size=batch_size, k=1)
    streams = dbn.rbm_layers[0].theano_rng.state_updates
    assert len(streams) == 3 * dbn.n_layers  # h given the data, then v and h in the chain
    for i in range(dbn.n_layers):
        for _epoch in range(2):
            for batch_index in range(3):
                x = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
                for W, b in zip(ref[:2 * i:2], ref[1:2 * i:2]):
                    x = sigmoid(x @ W + b)
                W, hb, vb = ref[2 * i], ref[2 * i + 1], ref_vbias[i]
                h0 = bernoulli(streams[3 * i].get_value(), sigmoid(x @ W + hb))
                pre_v1 = h0 @ W.T + vb
                v1 = bernoulli(streams[3 * i + 1].get_value(), sigmoid(pre_v1))
                got = pretraining_fns[i](index=batch_index, lr=0.1) if i else \
                    pretraining_fns[i](batch_index)
                numpy.testing.assert_allclose(got, -cross_entropy(x, pre_v1).mean(),
                                              rtol=1e-10)
                ref[2 * i], ref[2 * i + 1], ref_vbias[i] = numpy_update([W, hb, vb], x, v1)

    train_fn = dbn.build_finetune_functions(datasets=datasets, batch_size=batch_size,
                                            learning_rate=0.1)
    check_finetuning(train_fn, dbn.params, ref, train_x, train_y, batch_size, 0.1)
    for r, expected in zip(dbn.rbm_layers, ref_vbias):
        numpy.testing.assert_allclose(r.vbias.get_value(), expected, rtol=1e-10, atol=1e-14)
