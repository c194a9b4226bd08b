"""`RandomVariable`: a draw of one of PyTensor's distributions, with tensor parameters
that broadcast against the size, drawn in C (templates/random_rv.c.j2) and by the
numpy twins of `cgraph.tensor.random.samplers` in mode "PY".

The sample's shape is the batch shape followed by the distribution's core shape
(dirichlet, multinomial and multivariate_normal draw vectors). The batch shape is the
size when one is given (each parameter's batch dimensions then broadcast to it), else
the broadcast of the parameters' batch dimensions. A parameter out of its domain (a
negative scale, p outside [0, 1], NaN there) raises ValueError naming the distribution,
the parameter and the value, in modes C and PY; a covariance that is not positive
definite raises numpy.linalg.LinAlgError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.random import samplers
from cgraph.tensor.shape import checked_size
from cgraph.tensor.type import TensorType, as_tensor_variable


@dataclass(frozen=True)
class Dist:
    """A distribution: its parameters' names, their core ranks, the sample's core rank,
    whether its values are integers, the domain checks (param, kind, bound) with
    kind "ge", "gt" or "le" (NaN fails every check) and the checks between two
    parameters."""

    params: tuple[str, ...]
    core: tuple[int, ...] = ()
    out_core: int = 0
    discrete: bool = False
    checks: tuple[tuple[str, str, float], ...] = ()
    #: checks between two parameters (a, "le" or "lt", b)
    pairs: tuple[tuple[str, str, str], ...] = ()

    def core_of(self, i: int) -> int:
        """The core rank of parameter i."""
        return self.core[i] if self.core else 0


_SCALE = (("scale", "ge", 0.0),)
_UNIT = (("p", "ge", 0.0), ("p", "le", 1.0))
_LOC_SCALE = Dist(("loc", "scale"), checks=_SCALE)

#: the distributions of `RandomVariable`, by name
DISTS = {
    "uniform": Dist(("low", "high")),
    "normal": _LOC_SCALE,
    "integers": Dist(("low", "high"), discrete=True),
    "bernoulli": Dist(("p",), discrete=True, checks=_UNIT),
    "binomial": Dist(("n", "p"), discrete=True, checks=(("n", "ge", 0.0), *_UNIT)),
    "poisson": Dist(("lam",), discrete=True, checks=(("lam", "ge", 0.0),
                                                     ("lam", "le", 1e18))),
    "gamma": Dist(("shape", "scale"), checks=(("shape", "ge", 0.0), *_SCALE)),
    "beta": Dist(("alpha", "beta"), checks=(("alpha", "gt", 0.0), ("beta", "gt", 0.0))),
    "exponential": Dist(("scale",), checks=_SCALE),
    "lognormal": Dist(("mean", "sigma"), checks=(("sigma", "ge", 0.0),)),
    "laplace": _LOC_SCALE,
    "logistic": _LOC_SCALE,
    "cauchy": _LOC_SCALE,
    "halfnormal": _LOC_SCALE,
    "halfcauchy": _LOC_SCALE,
    "t": Dist(("df", "loc", "scale"), checks=(("df", "gt", 0.0), *_SCALE)),
    "chisquare": Dist(("df",), checks=(("df", "gt", 0.0),)),
    "negative_binomial": Dist(("n", "p"), discrete=True,
                              checks=(("n", "gt", 0.0), ("p", "gt", 0.0), ("p", "le", 1.0))),
    "geometric": Dist(("p",), discrete=True, checks=(("p", "gt", 0.0), ("p", "le", 1.0))),
    "weibull": Dist(("a",), checks=(("a", "ge", 0.0),)),
    "gumbel": _LOC_SCALE,
    "pareto": Dist(("b", "scale"), checks=(("b", "gt", 0.0), ("scale", "gt", 0.0))),
    "invgamma": Dist(("shape", "scale"), checks=(("shape", "gt", 0.0), ("scale", "gt", 0.0))),
    "triangular": Dist(("left", "mode", "right"),
                       pairs=(("left", "le", "mode"), ("mode", "le", "right"),
                              ("left", "lt", "right"))),
    "wald": Dist(("mean", "scale"), checks=(("mean", "gt", 0.0), ("scale", "gt", 0.0))),
    "truncexpon": Dist(("b", "loc", "scale"), checks=(("b", "gt", 0.0), *_SCALE)),
    "betabinom": Dist(("n", "a", "b"), discrete=True,
                      checks=(("n", "ge", 0.0), ("a", "gt", 0.0), ("b", "gt", 0.0))),
    "gengamma": Dist(("alpha", "p", "lambd"), checks=(("alpha", "gt", 0.0), ("p", "gt", 0.0),
                                                      ("lambd", "gt", 0.0))),
    "vonmises": Dist(("mu", "kappa"), checks=(("kappa", "ge", 0.0),)),
    "hypergeometric": Dist(("ngood", "nbad", "nsample"), discrete=True,
                           checks=(("ngood", "ge", 0.0), ("nbad", "ge", 0.0),
                                   ("nsample", "ge", 0.0))),
    "categorical": Dist(("p",), (1,), 0, True, _UNIT),
    "multinomial": Dist(("n", "p"), (0, 1), 1, True, (("n", "ge", 0.0), *_UNIT)),
    "dirichlet": Dist(("alphas",), (1,), 1, checks=(("alphas", "gt", 0.0),)),
    "multivariate_normal": Dist(("mean", "cov"), (1, 2), 1),
}
_WORDS = {"ge": ">= %s", "gt": "> %s", "le": "<= %s"}
_PAIR = {"le": "<=", "lt": "<"}
#: sum(p[:-1]) may pass 1 by this much (numpy's multinomial tolerance)
SUM_SLACK = 1e-12


def check_text(name: str, kind: str, bound: float) -> str:
    """The words of a check: 'scale >= 0'."""
    return f"{name} {_WORDS[kind] % format(bound, 'g')}"


class RandomVariable(Op):
    """A draw of `dist` (a key of `DISTS`) of dtype `dtype`.

    Inputs: the state (int64[3]: key, stream, counter), `ndim_size` int64 sizes (none
    when `ndim_size` is -1: the batch shape is the parameters'), the parameters, each
    with the batch rank (size 1 where it broadcasts) and its core dimensions. Outputs:
    the next state and the sample.
    """

    __props__ = ("dist", "dtype", "ndim_size")

    def __init__(self, dist: str, dtype: str, ndim_size: int):
        if dist not in DISTS:
            raise ValueError(f"unknown distribution {dist!r}")
        self.dist, self.dtype, self.ndim_size = dist, dtype, ndim_size
        self.spec = DISTS[dist]
        self.value_inputs = tuple(range(1, 1 + max(ndim_size, 0)))

    def __str__(self) -> str:
        return f"random_{self.dist}"

    def make_node(self, state: Any, *args: Any) -> Apply:
        state = as_tensor_variable(state)
        if state.dtype != "int64" or state.ndim != 1:
            raise TypeError(f"{self}: the state must be an int64 vector, got {state.type}")
        ns = max(self.ndim_size, 0)
        sizes = [as_tensor_variable(s) for s in args[:ns]]
        params = [as_tensor_variable(a) for a in args[ns:]]
        spec = self.spec
        if len(params) != len(spec.params):
            raise TypeError(f"{self} takes {len(spec.params)} parameters "
                            f"({', '.join(spec.params)}), got {len(params)}")
        for s in sizes:
            if s.ndim != 0 or s.dtype[0] not in "iu":
                raise TypeError(f"{self}: sizes must be integer scalars, got {s.type}")
        for name, a in zip(spec.params, params):
            if a.dtype[0] not in "iufb":
                raise TypeError(f"{self}: {name} must be real numbers, got {a.type}")
        batch = {p.ndim - spec.core_of(i) for i, p in enumerate(params)}
        if self.ndim_size >= 0:
            batch.add(self.ndim_size)
        if len(batch) != 1 or min(batch) < 0:
            raise TypeError(f"{self}: the parameters' batch ranks {sorted(batch)} differ "
                            "(random.RandomStream pads them)")
        nb = batch.pop()
        static: list[int | None] = []
        for d in range(nb):
            if self.ndim_size >= 0:
                static.append(int(sizes[d].data) if hasattr(sizes[d], "data") else None)
                continue
            dims = {p.type.shape[d] for p in params}
            known = {m for m in dims if m not in (None, 1)}
            static.append(known.pop() if len(known) == 1 else
                          1 if dims == {1} else None)
        if spec.out_core:
            static.append(params[1 if self.dist == "multinomial" else 0].type.shape[-1])
        outs = [TensorType("int64", (3,)).make_variable(),
                TensorType(self.dtype, tuple(static)).make_variable()]
        return Apply(self, [state, *sizes, *params], outs)

    def shapes(self, param_shapes: list[tuple[int, ...]], size: tuple[int, ...] | None
               ) -> tuple[tuple[int, ...], int]:
        """The batch shape and the core length k for these parameter shapes (and the
        size, if one is given); ValueError if they do not broadcast."""
        spec = self.spec
        batches = [tuple(s[:len(s) - spec.core_of(i)]) for i, s in enumerate(param_shapes)]
        if size is None:
            nb = len(batches[0]) if batches else 0
            batch = tuple(max((b[d] for b in batches), default=1) for d in range(nb))
            if any(b[d] == 0 for b in batches for d in range(nb)):
                batch = tuple(0 if any(b[d] == 0 for b in batches) else batch[d]
                              for d in range(nb))
        else:
            batch = size
        for name, b in zip(spec.params, batches):
            if any(m not in (1, want) for m, want in zip(b, batch)):
                raise ValueError(f"{self}: {name} of batch shape {b} does not broadcast to "
                                 f"the sample's batch shape {batch}")
        k = 0
        cores = [tuple(s[len(s) - spec.core_of(i):]) for i, s in enumerate(param_shapes)]
        if self.dist == "multivariate_normal":
            k = cores[0][0]
            if cores[1] != (k, k):
                raise ValueError(f"{self}: mean of length {k} needs a {k} x {k} cov, got "
                                 f"{cores[1]}")
        elif spec.core and max(spec.core):
            k = cores[spec.core.index(1)][0]
            if k < 1:
                raise ValueError(f"{self}: {spec.params[spec.core.index(1)]} has no "
                                 "categories (a last axis of length 0)")
        return batch, k

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        ns = max(self.ndim_size, 0)
        size = None
        if self.ndim_size >= 0:
            size = tuple(int(v) for v in (values or [])[1:1 + ns])
            if any(n < 0 for n in size):
                raise ValueError(f"{self}: negative size {size}")
        batch, k = self.shapes([tuple(s) for s in shapes[1 + ns:]], size)
        out = batch + ((k,) if self.spec.out_core else ())
        checked_size(out, self.dtype, f"{self}: the sample")
        return [(3,), out]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        ns = max(self.ndim_size, 0)
        key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in inputs[0])
        size = tuple(int(v) for v in inputs[1:1 + ns]) if self.ndim_size >= 0 else None
        params = [np.asarray(a) for a in inputs[1 + ns:]]
        batch, k = self.shapes([a.shape for a in params], size)
        n = int(np.prod(batch, dtype=np.int64))
        flat = []
        for i, a in enumerate(params):
            core = a.shape[a.ndim - self.spec.core_of(i):]
            b = np.broadcast_to(a, batch + core).reshape((n, *core))
            flat.append(b if self.dist == "integers" else b.astype(np.float64))
        self.check(flat)
        sample, used = samplers.draw(self.dist, self.dtype, (key, stream, counter), flat, n, k)
        new_state = np.array([key, stream, counter + used], dtype=np.uint64).view(np.int64)
        out = batch + ((k,) if self.spec.out_core else ())
        return [new_state, sample.astype(self.dtype).reshape(out)]

    def check(self, flat: list[np.ndarray]) -> None:
        """ValueError for a parameter out of its domain (the first, in element order)."""
        spec = self.spec
        for name, kind, bound in spec.checks:
            a = flat[spec.params.index(name)]
            ok = a >= bound if kind == "ge" else a > bound if kind == "gt" else a <= bound
            if not ok.all():
                value = a.reshape(-1)[np.argmin(ok.reshape(-1))]
                raise ValueError(f"{self.dist}: {check_text(name, kind, bound)} is needed, "
                                 f"got {name}={value:g}")
        for a, kind, b in spec.pairs:
            x, y = flat[spec.params.index(a)], flat[spec.params.index(b)]
            ok = x <= y if kind == "le" else x < y
            if not ok.all():
                at = np.argmin(ok)
                raise ValueError(f"{self.dist}: {a} {_PAIR[kind]} {b} is needed, got "
                                 f"{a}={x[at]:g}, {b}={y[at]:g}")
        if self.dist == "hypergeometric":
            good, bad, m = flat
            if (m > good + bad).any():
                at = np.argmax(m > good + bad)
                raise ValueError(f"hypergeometric: nsample <= ngood + nbad is needed, got "
                                 f"nsample={m[at]:g}, ngood + nbad={good[at] + bad[at]:g}")
        if self.dist == "integers":
            low, high = flat
            if (low >= high).any():
                at = np.argmax(low >= high)
                raise ValueError(f"integers: low < high is needed, got low={low[at]}, "
                                 f"high={high[at]}")
        if self.dist == "multinomial" and flat[1].shape[1]:
            total = np.cumsum(flat[1][:, :-1], axis=1)[:, -1] if flat[1].shape[1] > 1 else 0
            if np.any(total > 1.0 + SUM_SLACK):
                raise ValueError(f"multinomial: sum(p[:-1]) <= 1 is needed, got "
                                 f"{np.max(total):.17g}")

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [None] * len(inputs)


class RandomVariableKernel(KernelBuilder):
    """RandomVariable: the draws in C with the samplers of templates/random_lib.c.j2;
    each parameter read through its strides over the batch shape (0 where it
    broadcasts) and its core strides."""

    family = "random_rv"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        spec = op.spec
        ns = max(op.ndim_size, 0)
        nb = node.outputs[1].ndim - spec.out_core
        n_params = len(spec.params)
        checks = [(spec.params.index(p), kind, repr(float(bound)), check_text(p, kind, bound))
                  for p, kind, bound in spec.checks]
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      ParamLayout(self.family, n=1, k=1, shape=nb, strides=(n_params, nb),
                                  core=(n_params, 2)),
                      context={"dist": op.dist, "first": 1 + ns, "nb": nb,
                               "n_params": n_params, "names": spec.params,
                               "checks": tuple(checks), "float32": op.dtype == "float32",
                               "pairs": tuple((spec.params.index(a), _PAIR[kind],
                                               spec.params.index(b), a, b)
                                              for a, kind, b in spec.pairs),
                               "slack": repr(SUM_SLACK)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """The batch size n, the core length k, the batch shape, each parameter's batch
        strides (0 where it broadcasts) and core strides."""
        op = node.op
        ns = max(op.ndim_size, 0)
        batch, k = op.shapes([tuple(s) for s in in_shapes[1 + ns:]], tuple(
            out_layouts[1][0][:len(out_layouts[1][0]) - op.spec.out_core]))
        strides, core = [], []
        for i, (shape, st) in enumerate(in_layouts[1 + ns:]):
            nb = len(shape) - op.spec.core_of(i)
            strides += [0 if m != want else s for m, want, s in zip(shape, batch, st)]
            core += (list(st[nb:]) + [0, 0])[:2]
        return kernel.layout.build(n=int(np.prod(batch, dtype=np.int64)), k=k, shape=batch,
                                   strides=strides, core=core)


register_kernel(RandomVariableKernel(), RandomVariable)
