"""The deeplearning.net stacked denoising auto-encoders (SdA.py): sigmoid layers whose
weights the dA layers share, one pretraining function per layer (binomial corruption
from a shared RandomStreams; `In(corruption_level, value=0.2)` and keyword calls), then
fine-tuning of the whole stack with a softmax layer through `givens`. Each cost and
the final parameters equal a numpy reference that draws the same corruption masks
(the streams' numpy generator, fed the stream's state before the call)."""

import numpy
from tutorial_layers import HiddenLayer, LogisticRegression, dA, shared_dataset
from tutorial_numpy import check_finetuning, cross_entropy, sigmoid, stream_draw

import cgraph as theano
import cgraph.tensor as T
from cgraph.tensor.shared_randomstreams import RandomStreams


class SdA:
    def __init__(self, numpy_rng, theano_rng=None, n_ins=784, hidden_layers_sizes=(500, 500),
                 n_outs=10, corruption_levels=(0.1, 0.1)):
        self.sigmoid_layers = []
        self.dA_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)
        assert self.n_layers > 0
        if not theano_rng:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
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
            dA_layer = dA(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                          n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                          W=sigmoid_layer.W, bhid=sigmoid_layer.b)
            self.dA_layers.append(dA_layer)
        self.logLayer = LogisticRegression(input=self.sigmoid_layers[-1].output,
                                           n_in=hidden_layers_sizes[-1], n_out=n_outs)
        self.params.extend(self.logLayer.params)
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        self.errors = self.logLayer.errors(self.y)

    def pretraining_functions(self, train_set_x, batch_size):
        index = T.lscalar("index")
        corruption_level = T.scalar("corruption")
        learning_rate = T.scalar("lr")
        batch_begin = index * batch_size
        batch_end = batch_begin + batch_size
        pretrain_fns = []
        for dA_layer in self.dA_layers:
            cost, updates = dA_layer.get_cost_updates(corruption_level, learning_rate)
            fn = theano.function(
                inputs=[index, theano.In(corruption_level, value=0.2),
                        theano.In(learning_rate, value=0.1)],
                outputs=cost, updates=updates,
                givens={self.x: train_set_x[batch_begin: batch_end]})
            pretrain_fns.append(fn)
        return pretrain_fns

    def build_finetune_functions(self, datasets, batch_size, learning_rate):
        (train_set_x, train_set_y) = datasets[0]
        (test_set_x, test_set_y) = datasets[1]
        n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size
        index = T.lscalar("index")
        gparams = T.grad(self.finetune_cost, self.params)
        updates = [(param, param - gparam * learning_rate)
                   for param, gparam in zip(self.params, gparams)]
        train_fn = theano.function(
            inputs=[index], outputs=self.finetune_cost, updates=updates,
            givens={self.x: train_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: train_set_y[index * batch_size: (index + 1) * batch_size]},
            name="train")
        test_score_i = theano.function(
            [index], self.errors,
            givens={self.x: test_set_x[index * batch_size: (index + 1) * batch_size],
                    self.y: test_set_y[index * batch_size: (index + 1) * batch_size]},
            name="test")

        def test_score():
            return [test_score_i(i) for i in range(n_test_batches)]

        return train_fn, test_score


def dae_step(params, x, xin, lr):
    """The cost and (W, b, b_prime) after one step of a tied-weights denoising
    auto-encoder fed the corrupted input xin and reconstructing x."""
    W, b, b_prime = params
    h = sigmoid(xin @ W + b)
    a = h @ W.T + b_prime
    d_a = (sigmoid(a) - x) / len(x)
    d_z = d_a @ W * h * (1 - h)
    grads = [xin.T @ d_z + d_a.T @ h, d_z.sum(axis=0), d_a.sum(axis=0)]
    return cross_entropy(x, a).mean(), [q - lr * g for q, g in zip(params, grads)]


def test_sda_pretraining_and_finetuning_equal_numpy():
    data_rng = numpy.random.RandomState(11)
    n_ins, sizes, n_outs, batch_size = 10, [8, 6], 3, 5
    train_x = (data_rng.rand(15, n_ins) > 0.5).astype(float)
    train_y = (train_x[:, :n_outs] * [1, 2, 3]).argmax(axis=1)
    test_x = (data_rng.rand(10, n_ins) > 0.5).astype(float)
    test_y = test_x[:, :n_outs].argmax(axis=1)
    datasets = [shared_dataset((train_x, train_y)), shared_dataset((test_x, test_y))]
    train_set_x = datasets[0][0]
    numpy_rng = numpy.random.RandomState(89677)
    sda = SdA(numpy_rng=numpy_rng, n_ins=n_ins, hidden_layers_sizes=sizes, n_outs=n_outs)
    ref = [p.get_value().copy() for p in sda.params]
    ref_bvis = [d.b_prime.get_value().copy() for d in sda.dA_layers]

    pretraining_fns = sda.pretraining_functions(train_set_x=train_set_x,
                                                batch_size=batch_size)
    corruption_levels = [.1, .2]
    for i in range(sda.n_layers):
        state = sda.dA_layers[i].theano_rng.state_updates[i]
        for _epoch in range(2):
            for batch_index in range(3):
                xb = train_x[batch_index * batch_size:(batch_index + 1) * batch_size]
                for W, b in zip(ref[:2 * i:2], ref[1:2 * i:2]):
                    xb = sigmoid(xb @ W + b)
                mask = stream_draw(state.get_value(), "binomial", xb.size, 1,
                                   1 - corruption_levels[i]).reshape(xb.shape)
                want, new = dae_step([ref[2 * i], ref[2 * i + 1], ref_bvis[i]], xb,
                                     mask * xb, 0.05)
                got = pretraining_fns[i](index=batch_index, corruption=corruption_levels[i],
                                         lr=0.05)
                numpy.testing.assert_allclose(got, want, rtol=1e-10)
                ref[2 * i], ref[2 * i + 1], ref_bvis[i] = new
    # the default values of the In()s: corruption 0.2, learning rate 0.1
    xb = train_x[:batch_size]
    mask = stream_draw(sda.dA_layers[0].theano_rng.state_updates[0].get_value(), "binomial",
                       xb.size, 1, 0.8).reshape(xb.shape)
    want, (ref[0], ref[1], ref_bvis[0]) = dae_step([ref[0], ref[1], ref_bvis[0]], xb,
                                                   mask * xb, 0.1)
    numpy.testing.assert_allclose(pretraining_fns[0](0), want, rtol=1e-10)

    train_fn, test_model = sda.build_finetune_functions(datasets=datasets,
                                                        batch_size=batch_size,
                                                        learning_rate=0.1)
    ref = check_finetuning(train_fn, sda.params, ref, train_x, train_y, batch_size, 0.1)
    for d, expected in zip(sda.dA_layers, ref_bvis):
        numpy.testing.assert_allclose(d.b_prime.get_value(), expected, rtol=1e-10, atol=1e-14)
    h = test_x
    for W, b in zip(ref[:-2:2], ref[1:-2:2]):
        h = sigmoid(h @ W + b)
    wrong = ((h @ ref[-2] + ref[-1]).argmax(axis=1) != test_y).reshape(2, batch_size)
    numpy.testing.assert_allclose(test_model(), wrong.mean(axis=1), rtol=1e-12)
