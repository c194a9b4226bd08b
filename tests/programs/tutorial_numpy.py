"""numpy twins of the tutorial models' pieces, for the programs' references (float64)."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(x: np.ndarray, z_pre: np.ndarray) -> np.ndarray:
    """-sum(x log sigmoid(a) + (1 - x) log(1 - sigmoid(a)), axis=1) from the logits a."""
    return (x * softplus(-z_pre) + (1 - x) * softplus(z_pre)).sum(axis=1)


def stream_draw(state: np.ndarray, dist: str, n: int, *params: float) -> np.ndarray:
    """The n float64 numbers that a RandomStreams draw whose shared state is `state`
    makes next ("uniform" low high, "normal" avg std, "binomial" trials p), from the
    streams' numpy reference generator: a model's draws, reproduced for its reference."""
    from cgraph.tensor.random import RandomDraw

    key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in state)
    return RandomDraw(dist, "float64", 1)._draw(key, stream, counter, n, list(params))[0]


def finetune_step(params: list, x: np.ndarray, y: np.ndarray, lr: float) -> tuple:
    """The NLL and the parameters [W1, b1, ..., W_out, b_out] after one SGD step of a
    stack of sigmoid layers under a softmax layer (the SdA's and DBN's fine-tuning)."""
    acts = [x]
    for W, b in zip(params[:-2:2], params[1:-2:2]):
        acts.append(sigmoid(acts[-1] @ W + b))
    p = softmax(acts[-1] @ params[-2] + params[-1])
    n = len(y)
    nll = -np.log(p[np.arange(n), y]).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    grads = []
    for k in range(len(params) // 2 - 1, -1, -1):
        grads[:0] = [acts[k].T @ d, d.sum(axis=0)]
        if k:
            d = d @ params[2 * k].T * acts[k] * (1 - acts[k])
    return nll, [q - lr * g for q, g in zip(params, grads)]


class StreamTwin:
    """The numpy twin of one RandomStreams stream, started from its shared state: each
    draw reads the numbers the stream would draw next and advances, so a chain of
    draws from one stream (a scan's Gibbs steps) is reproduced draw by draw."""

    def __init__(self, state: np.ndarray):
        self.state = np.array(state, dtype=np.int64)

    def binomial(self, p: np.ndarray) -> np.ndarray:
        """The n=1 binomial sample of probabilities p (RandomStreams.binomial)."""
        from cgraph.tensor.random import _binomial

        key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in self.state)
        hits, used = _binomial(key, stream, counter, p.size, 1, p.reshape(-1))
        self.state[2] += used
        return hits.reshape(p.shape).astype(np.float64)


def check_finetuning(train_fn, params: list, ref: list, x: np.ndarray, y: np.ndarray,
                     batch_size: int, lr: float, epochs: int = 2) -> list:
    """Run a deep model's fine-tuning function train_fn(minibatch_index) over x for
    `epochs` passes, each cost against `finetune_step` of the numpy parameters `ref`,
    then the model's shared `params` against them; the numpy parameters after."""
    for _epoch in range(epochs):
        for index in range(len(x) // batch_size):
            sl = slice(index * batch_size, (index + 1) * batch_size)
            want, ref = finetune_step(ref, x[sl], y[sl], lr)
            np.testing.assert_allclose(train_fn(index), want, rtol=1e-10)
    for param, expected in zip(params, ref):
        np.testing.assert_allclose(param.get_value(), expected, rtol=1e-10, atol=1e-14)
    return ref
