"""einsum: numpy's Einstein summation as a graph of existing ops.

Each operand's repeated letters become diagonals and its private letters sums; the
operands are then combined left to right: a pair sharing no letter that is still
needed becomes one `tensordot` (BLAS for the contraction), a pair with shared kept
letters (a batch) a `matmul` over the batch axes, and the rest a broadcast product
summed over the letters no longer needed. Gradients are those of the ops.
"""

from __future__ import annotations

import string
from typing import Any

from cgraph.tensor.basic_ops import reshape
from cgraph.tensor.blas import matmul, tensordot
from cgraph.tensor.diagonal import diagonal
from cgraph.tensor.math import mul, sum
from cgraph.tensor.shape import transpose
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["einsum"]

_LETTERS = string.ascii_letters


def _parse(subscripts: str, ndims: list[int]) -> tuple[list[str], str, str]:
    """Each operand's letters (ellipses replaced by letters no operand uses, aligned on
    the right) and the output's letters."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, "
                         f"got {len(ndims)}")
    for ch in spec.replace("...", "").replace(",", "").replace("->", ""):
        if ch not in _LETTERS:
            raise ValueError(f"einsum: invalid subscript {ch!r} in {subscripts!r}")
    free = [c for c in _LETTERS if c not in spec]
    ell_rank = 0
    for t, nd in zip(terms, ndims):
        explicit = len(t.replace("...", ""))
        if "..." in t:
            ell_rank = max(ell_rank, nd - explicit)
        elif explicit != nd:
            raise ValueError(f"einsum: subscripts {t!r} have {explicit} letters for an "
                             f"operand of {nd} dimensions")
        if explicit > nd:
            raise ValueError(f"einsum: subscripts {t!r} have more letters than the "
                             f"operand's {nd} dimensions")
    ell = "".join(free[:ell_rank])
    letters = []
    for t, nd in zip(terms, ndims):
        k = nd - len(t.replace("...", ""))
        letters.append(t.replace("...", ell[ell_rank - k:] if k else ""))
    if arrow:
        out = out.replace("...", ell)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} repeat a letter")
        unknown = set(out) - set("".join(letters))
        if unknown:
            raise ValueError(f"einsum: output letters {sorted(unknown)} are in no operand")
    else:
        every = "".join(letters)
        out = ell + "".join(sorted(c for c in set(every) if every.count(c) == 1 and c not in ell))
    return letters, out, ell


def _distinct(x: TensorVariable, lt: str) -> tuple[TensorVariable, str]:
    """`x` with each repeated letter reduced to its diagonal (moved last)."""
    while len(set(lt)) != len(lt):
        c = next(c for c in lt if lt.count(c) > 1)
        a1 = lt.index(c)
        a2 = lt.index(c, a1 + 1)
        x = diagonal(x, 0, a1, a2)
        lt = lt[:a1] + lt[a1 + 1:a2] + lt[a2 + 1:] + c
    return x, lt


def _sum_out(x: TensorVariable, lt: str, keep: set[str]) -> tuple[TensorVariable, str]:
    axes = [i for i, c in enumerate(lt) if c not in keep]
    if not axes:
        return x, lt
    return sum(x, axis=axes), "".join(c for c in lt if c in keep)


def _size(x: TensorVariable, lt: str, letters: str) -> Any:
    out: Any = 1
    for c in letters:
        out = out * x.shape[lt.index(c)]
    return out


def _pair(a: TensorVariable, la: str, b: TensorVariable, lb: str, keep: set[str],
          ell: set[str]) -> tuple[TensorVariable, str]:
    shared = [c for c in la if c in lb]
    contracted = [c for c in shared if c not in keep]
    batch = [c for c in shared if c in keep]
    if not batch:
        out = tensordot(a, b, [[la.index(c) for c in contracted],
                               [lb.index(c) for c in contracted]])
        return out, "".join(c for c in la if c not in contracted) + "".join(
            c for c in lb if c not in contracted)
    a_only = "".join(c for c in la if c not in shared)
    b_only = "".join(c for c in lb if c not in shared)
    bt, ct = "".join(batch), "".join(contracted)
    if _batch_static_equal(a, la, b, lb, bt, ell):
        # (batch, a_only, contracted) @ (batch, contracted, b_only)
        at = transpose(a, [la.index(c) for c in bt + a_only + ct])
        btr = transpose(b, [lb.index(c) for c in bt + ct + b_only])
        bshape = [a.shape[la.index(c)] for c in bt]
        am = reshape(at, [*bshape, _size(a, la, a_only), _size(a, la, ct)], ndim=len(bt) + 2)
        bm = reshape(btr, [*bshape, _size(b, lb, ct), _size(b, lb, b_only)], ndim=len(bt) + 2)
        out = matmul(am, bm)
        shape = bshape + [a.shape[la.index(c)] for c in a_only] + [
            b.shape[lb.index(c)] for c in b_only]
        return reshape(out, shape, ndim=len(shape)), bt + a_only + b_only
    union = la + "".join(c for c in lb if c not in la)
    pa = [la.index(c) if c in la else "x" for c in union]
    pb = [lb.index(c) if c in lb else "x" for c in union]
    prod = mul(a.dimshuffle(*pa), b.dimshuffle(*pb))
    return _sum_out(prod, union, keep)


def _batch_static_equal(a: TensorVariable, la: str, b: TensorVariable, lb: str,
                        bt: str, ell: set[str]) -> bool:
    """True unless a batch letter may broadcast (an ellipsis axis not statically of
    equal lengths): matmul's path reshapes with a's batch lengths."""
    for c in bt:
        na, nb = a.type.shape[la.index(c)], b.type.shape[lb.index(c)]
        if c in ell and (na is None or na != nb):
            return False
    return True


def einsum(subscripts: str, *operands: Any) -> TensorVariable:
    """Einstein summation over the operands' axes named by `subscripts` (numpy's einsum).

    'ij,jk->ik' is a matrix product, 'ii->i' a diagonal, 'ii' a trace, 'ij->ji' a
    transpose, '...ij,...jk' a batched product; without '->' the output holds the
    letters used once, sorted (after the ellipsis axes). Letters repeated in one
    operand take its diagonal. Contractions go to tensordot/matmul (BLAS) where the
    shapes allow, else a broadcast product and a sum. dtype: the operands' upcast (as
    `mul`); gradient in every operand. Raises ValueError for subscripts that do not
    fit the operands (count, letters, ranks) and when a letter's lengths differ (at
    build time when static, else at call time).
    """
    ops = [as_tensor_variable(o) for o in operands]
    if not ops:
        raise ValueError("einsum: at least one operand is needed")
    letters, out, ell = _parse(subscripts, [o.ndim for o in ops])
    terms = []
    for k, (x, lt) in enumerate(zip(ops, letters)):
        x, lt = _distinct(x, lt)
        others = set(out) | {c for j, t in enumerate(letters) if j != k for c in t}
        terms.append(_sum_out(x, lt, others))
    x, lt = terms[0]
    for k in range(1, len(terms)):
        keep = set(out) | {c for _, t in terms[k + 1:] for c in t}
        x, lt = _pair(x, lt, terms[k][0], terms[k][1], keep, set(ell))
    x, lt = _sum_out(x, lt, set(out))
    if lt != out:
        x = transpose(x, [lt.index(c) for c in out])
    return x
