"""Random streams: draws made in C by the Philox4x32-10 counter-based generator.

A draw's state is a shared int64 vector (key, stream, counter). Element i of a draw
of n elements uses Philox block `counter + i` of its stream (binomial with n trials:
blocks `counter + i * n + t`), and the draw's update advances the counter past the
blocks it used, so calling a function twice gives new numbers, and re-seeding
restarts the sequence. The numpy reference below implements the same generator,
so mode "PY" draws the same numbers as C (exactly for uniform, binomial, choice
and permutation; normal goes through libm's log and cos, equal to the last bit or
close to it).

`binomial` also takes a probability array (RBM Gibbs sampling: `p` has the sample's
shape, or broadcasts to it): element i compares its uniforms with p[i]. A probability
out of [0, 1] (or NaN) is a ValueError, as numpy's (and so PyTensor's) binomial raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.shape import ShapeVector, checked_size
from cgraph.tensor.sharedvar import SharedVariable, shared
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

_DISTS = {"uniform": 2, "normal": 2, "binomial": 2, "choice": 1, "permutation": 0}
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)


def philox(key: int, stream: int, counters: np.ndarray) -> np.ndarray:
    """Philox4x32-10 blocks for an array of counters: shape (n, 4) of uint32."""
    counters = counters.astype(np.uint64)
    c0 = (counters & _MASK).astype(np.uint32)
    c1 = (counters >> np.uint64(32)).astype(np.uint32)
    c2 = np.full_like(c0, np.uint32(stream & 0xFFFFFFFF))
    c3 = np.full_like(c0, np.uint32((stream >> 32) & 0xFFFFFFFF))
    k0, k1 = np.uint32(key & 0xFFFFFFFF), np.uint32((key >> 32) & 0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for r in range(10):
            if r > 0:
                k0, k1 = k0 + _W0, k1 + _W1
            p0 = _M0 * c0.astype(np.uint64)
            p1 = _M1 * c2.astype(np.uint64)
            n0 = (p1 >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0
            n2 = (p0 >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1
            c1 = (p1 & _MASK).astype(np.uint32)
            c3 = (p0 & _MASK).astype(np.uint32)
            c0, c2 = n0, n2
    return np.stack([c0, c1, c2, c3], axis=-1)


def _u01(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a >> 5).astype(np.float64) * 67108864.0 + (b >> 6).astype(np.float64)) \
        / 9007199254740992.0


def _binomial(key: int, stream: int, counter: int, n: int, trials: int, prob: np.ndarray
              ) -> tuple[np.ndarray, int]:
    """Hits of `trials` trials for each of n elements, with probability `prob` (a scalar
    or n values): trial t of element j is block counter + j * trials + t."""
    prob = np.asarray(prob, dtype=np.float64).reshape(-1, 1)
    if trials < 0 or not np.all((prob >= 0) & (prob <= 1)):
        bad = prob[~((prob >= 0) & (prob <= 1))]
        raise ValueError(f"binomial: need n >= 0 and 0 <= p <= 1, got n={trials}, "
                         f"p={bad[0] if bad.size else prob.reshape(-1)[0]}")
    b = philox(key, stream, counter + np.arange(n * trials))
    hits = (_u01(b[:, 0], b[:, 1]).reshape(n, trials) < prob).sum(axis=1)
    return hits, n * trials


class RandomDraw(Op):
    """A draw of `dist` with the shape given by `ndim` symbolic sizes.

    Inputs: the state (int64[3]), the sizes (int64 scalars), the parameters
    (scalars). Outputs: the next state and the sample.
    """

    __props__ = ("dist", "dtype", "ndim")

    def __init__(self, dist: str, dtype: str, ndim: int):
        if dist not in _DISTS:
            raise ValueError(f"unknown distribution {dist!r}")
        self.dist, self.dtype, self.ndim = dist, dtype, ndim
        self.value_inputs = tuple(range(1, 1 + ndim))

    def __str__(self) -> str:
        return f"random_{self.dist}"

    def make_node(self, state: Any, *args: Any) -> Apply:
        state = as_tensor_variable(state)
        if state.dtype != "int64" or state.ndim != 1:
            raise TypeError(f"{self}: the state must be an int64 vector, got {state.type}")
        sizes = [as_tensor_variable(s) for s in args[:self.ndim]]
        params = [as_tensor_variable(a) for a in args[self.ndim:]]
        if len(params) != _DISTS[self.dist]:
            raise TypeError(f"{self} takes {_DISTS[self.dist]} parameters, got {len(params)}")
        for s in sizes:
            if s.ndim != 0 or s.dtype[0] not in "iu":
                raise TypeError(f"{self}: sizes must be integer scalars, got {s.type}")
        for a in params:
            if a.ndim != 0:
                raise NotImplementedError(
                    f"{self}: parameters must be scalars (got {a.type}); draw standard "
                    "values and scale them with elementwise ops instead")
        static = tuple(int(s.data) if hasattr(s, "data") else None for s in sizes)
        outs = [TensorType("int64", (3,)).make_variable(),
                TensorType(self.dtype, static).make_variable()]
        return Apply(self, [state, *sizes, *params], outs)

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        size = tuple(int(v) for v in (values or [])[1:1 + self.ndim])  # None: a scalar
        if any(n < 0 for n in size):
            raise ValueError(f"{self}: negative size {size}")
        checked_size(size, self.dtype, f"{self}: the sample")
        return [(3,), size]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        state = inputs[0]
        size = tuple(int(v) for v in inputs[1:1 + self.ndim])
        params = [float(a) for a in inputs[1 + self.ndim:]]
        key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in state)
        n = int(np.prod(size, dtype=np.int64))
        sample, used = self._draw(key, stream, counter, n, params)
        new_state = np.array([key, stream, counter + used], dtype=np.uint64).view(np.int64)
        return [new_state, sample.astype(self.dtype).reshape(size)]

    def _draw(self, key: int, stream: int, counter: int, n: int, params: list[float]
              ) -> tuple[np.ndarray, int]:
        if self.dist == "permutation":
            out = np.arange(n, dtype=np.int64)
            for j in range(n - 1, 0, -1):
                b = philox(key, stream, np.array([counter + j]))[0]
                r = int(_u01(b[:1], b[1:2])[0] * (j + 1))
                out[j], out[r] = out[r], out[j]
            return out, n
        if self.dist == "binomial":
            return _binomial(key, stream, counter, n, int(params[0]), np.float64(params[1]))
        b = philox(key, stream, counter + np.arange(n))
        if self.dist == "uniform":
            low, high = params
            if self.dtype == "float32":
                u = (b[:, 0] >> 8).astype(np.float32) * np.float32(1 / 16777216)
                return np.float32(low) + (np.float32(high) - np.float32(low)) * u, n
            return low + (high - low) * _u01(b[:, 0], b[:, 1]), n
        if self.dist == "normal":
            mean, std = params
            u1 = 1.0 - _u01(b[:, 0], b[:, 1])
            u2 = _u01(b[:, 2], b[:, 3])
            return mean + std * (np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)), n
        (a,) = params
        if a < 1:
            raise ValueError(f"choice: need a >= 1 values to choose from, got {a}")
        return np.floor(_u01(b[:, 0], b[:, 1]) * a), n

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [None] * len(inputs)



class RandomKernel(KernelBuilder):
    """RandomDraw: the sample drawn with Philox in C (templates/random.c.j2)."""

    family = "random"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      ParamLayout(self.family, size=1),
                      context={"dist": op.dist, "n_size": op.ndim, "n_params": _DISTS[op.dist]})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(size=int(np.prod(out_layouts[1][0], dtype=np.int64)))


register_kernel(RandomKernel(), RandomDraw)


class BinomialArrayDraw(RandomDraw):
    """Binomial draws with a probability array `p` of the sample's rank that broadcasts
    to the sample's shape; `n` (the trials) stays a scalar. Inputs: the state, the
    sizes, n, p. The draws equal the scalar form's where p is constant."""

    def __init__(self, dtype: str, ndim: int):
        super().__init__("binomial", dtype, ndim)

    def make_node(self, state: Any, *args: Any) -> Apply:
        *front, trials, prob = args
        prob = as_tensor_variable(prob)
        if prob.ndim != self.ndim or prob.dtype not in ("float32", "float64"):
            raise TypeError(f"binomial: p must be a float array of the sample's rank "
                            f"{self.ndim}, got {prob.type}")
        node = super().make_node(state, *front, trials, np.float64(0.5))
        sizes = node.inputs[1:1 + self.ndim]
        for axis, (want, got) in enumerate(zip(node.outputs[1].type.shape, prob.type.shape)):
            if want is not None and got not in (None, 1, want):
                raise ValueError(f"binomial: p of shape {prob.type.shape} does not broadcast "
                                 f"to the size along axis {axis} ({want})")
        outs = [v.type.make_variable() for v in node.outputs]
        return Apply(self, [node.inputs[0], *sizes, node.inputs[-2], prob], outs)

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        out = super().infer_shape(node, shapes, values)
        p_shape = tuple(shapes[-1])
        if any(m not in (1, n) for m, n in zip(p_shape, out[1])):
            raise ValueError(f"binomial: p of shape {p_shape} does not broadcast to the "
                             f"sample's shape {out[1]}")
        return out

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in inputs[0])
        size = tuple(int(v) for v in inputs[1:1 + self.ndim])
        prob = np.broadcast_to(inputs[-1], size).reshape(-1)
        sample, used = _binomial(key, stream, counter, prob.size, int(inputs[-2]), prob)
        new_state = np.array([key, stream, counter + used], dtype=np.uint64).view(np.int64)
        return [new_state, sample.astype(self.dtype).reshape(size)]


class BinomialArrayKernel(RandomKernel):
    """BinomialArrayDraw: p read through its strides over the sample's shape."""

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      ParamLayout(self.family, size=1, shape=op.ndim, p_strides=op.ndim),
                      context={"dist": op.dist, "n_size": op.ndim, "n_params": 2,
                               "p_array": True})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """n; the sample's shape; p's strides over it (0 where p broadcasts)."""
        shape = tuple(out_layouts[1][0])
        p_shape, p_strides = in_layouts[-1]
        strides = [0 if m != n else st for m, n, st in zip(p_shape, shape, p_strides)]
        return kernel.layout.build(size=int(np.prod(shape, dtype=np.int64)), shape=shape,
                                   p_strides=strides)


register_kernel(BinomialArrayKernel(), BinomialArrayDraw)


class RandomStreams:
    """Theano's `shared_randomstreams.RandomStreams`: `srng.uniform(size=(2, 3))`.

    Every draw gets its own stream: a shared state whose `default_update` advances it,
    so a function that uses the draw gives new values at each call.
    """

    def __init__(self, seed: int | None = None):
        self.gen_seedgen = int(seed if seed is not None else 0)
        self.state_updates: list[SharedVariable] = []

    def seed(self, seed: int | None = None) -> None:
        """Restart every stream made so far from `seed` (or the initial seed)."""
        if seed is not None:
            self.gen_seedgen = int(seed)
        for k, state in enumerate(self.state_updates):
            state.set_value(np.array([self.gen_seedgen, k, 0], dtype=np.int64))

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """Each draw's (state, next state) pair, for `function(..., updates=...)` (the
        draws also advance without it: their states' `default_update`)."""
        return [(state, state.default_update) for state in self.state_updates]

    def _new_state(self) -> SharedVariable:
        """A new draw's state: (seed, draw number, counter 0), restarted by `seed`."""
        k = len(self.state_updates)
        state = shared(np.array([self.gen_seedgen, k, 0], dtype=np.int64),
                       name=f"rng_state_{k}")
        self.state_updates.append(state)
        return state

    def _draw(self, dist: str, size: Any, params: Sequence[Any], dtype: str) -> TensorVariable:
        if dist in ("uniform", "normal") and any(as_tensor_variable(a).ndim for a in params):
            # tensor parameters: RandomStream's draw (the same numbers where they are equal)
            from cgraph.tensor.random.stream import draw_rv  # noqa: PLC0415

            return draw_rv(self, dist, list(params), size, dtype)
        sizes = _as_sizes(size)
        state = self._new_state()
        op = RandomDraw(dist, dtype, len(sizes))
        if dist == "binomial" and as_tensor_variable(params[1]).ndim:
            op = BinomialArrayDraw(dtype, len(sizes))
        new_state, sample = op(state, *sizes, *params)
        state.default_update = new_state
        return sample

    def uniform(self, size: Any = (), low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None) -> TensorVariable:
        """Uniform on [low, high); `low` and `high` may be tensors that broadcast to
        `size`."""
        return self._draw("uniform", size, [low, high], _float(dtype))

    def normal(self, size: Any = (), avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None) -> TensorVariable:
        """Normal with mean `avg` and standard deviation `std` (Box-Muller); `avg` and
        `std` may be tensors that broadcast to `size` (std >= 0, else ValueError)."""
        return self._draw("normal", size, [avg, std], _float(dtype))

    def binomial(self, size: Any = (), n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64") -> TensorVariable:
        """Number of successes in `n` trials of probability `p` (dropout masks: n=1).

        `p` may be an array (symbolic or not) that broadcasts to `size`, e.g. an RBM's
        hidden probabilities; a p out of [0, 1] or NaN raises ValueError when drawn."""
        p = as_tensor_variable(p)
        if p.ndim:
            sizes = _as_sizes(size)
            p = p.dimshuffle(*["x"] * (len(sizes) - p.ndim), *range(p.ndim)) \
                if p.ndim < len(sizes) else p
        return self._draw("binomial", size, [n, p], str(np.dtype(dtype)))

    def choice(self, size: Any = (), a: Any = 2, replace: bool = True, p: Any = None,
               ndim: int | None = None, dtype: Any = "int64") -> TensorVariable:
        """Integers drawn uniformly from range(a), with replacement."""
        if not replace or p is not None:
            raise NotImplementedError("choice: only replace=True with uniform probabilities")
        return self._draw("choice", size, [a], str(np.dtype(dtype)))

    def permutation(self, n: Any, dtype: Any = "int64") -> TensorVariable:
        """A random permutation of range(n)."""
        return self._draw("permutation", (n,), [], str(np.dtype(dtype)))


def _float(dtype: Any) -> str:
    dtype = str(np.dtype(dtype)) if dtype is not None else config.floatX
    if dtype not in ("float32", "float64"):
        raise TypeError(f"random: continuous draws are float32 or float64, not {dtype}")
    return dtype


def _as_sizes(size: Any) -> list[TensorVariable]:
    if isinstance(size, TensorVariable) and size.ndim == 0:
        size = (size,)
    if isinstance(size, ShapeVector):  # `x.shape`: its entries
        size = tuple(size)
    if isinstance(size, (int, np.integer)):
        size = (size,)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"random: size must be a tuple of ints or int scalars, got {size!r}")
    out = []
    for s in size:
        v = as_tensor_variable(s if isinstance(s, Variable) else np.int64(s))
        if v.ndim != 0 or v.dtype[0] not in "iu":
            raise TypeError(f"random: sizes must be integer scalars, got {v.type}")
        out.append(v if v.dtype == "int64" else v.astype("int64"))
    return out
