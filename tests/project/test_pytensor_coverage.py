"""How much of PyTensor's public tensor API cgraph.tensor provides (issue #18).

The names are data, copied from PyTensor's API (pytensor is not a dependency): the
`__all__` lists of `pytensor.tensor.math`, `pytensor.tensor.basic` and
`pytensor.tensor.extra_ops`, and the functions `pytensor.tensor` re-exports from its
shape, sort, subtensor, pad, einsum and blas modules (PyTensor's docs,
doc/library/tensor/basic.rst and the API reference). Typed constructors (dmatrix, ...)
are left out: their table is checked by the README test.

The test prints the coverage and the missing names, and asserts the coverage never
drops below the value measured when it was written. Target: at least 90% (issue #18);
what stays missing is listed in MISSING_REASONS with its reason.
"""

from __future__ import annotations

import cgraph.tensor as T

#: pytensor.tensor.math.__all__
PYTENSOR_MATH = """
max_and_argmax max matmul argmax min argmin smallest largest lt less gt greater le
less_equal ge greater_equal eq equal neq not_equal isnan isinf isposinf isneginf allclose
isclose and_ bitwise_and or_ bitwise_or xor bitwise_xor invert bitwise_not abs exp exp2
expm1 neg reciprocal log log2 log10 log1p sgn sign ceil floor trunc iround round
round_half_to_even round_half_away_from_zero sqr square cov sqrt deg2rad rad2deg cos
arccos sin arcsin tan arctan arctan2 cosh arccosh sinh arcsinh tanh arctanh erf erfc erfcx
erfinv erfcinv owens_t gamma gammaln psi digamma tri_gamma polygamma chi2sf gammainc
gammaincc gammau gammal gammaincinv gammainccinv j0 j1 jv i0 i1 iv ive kv kve sigmoid expit
softplus log1pexp log1mexp betainc betaincinv real imag angle complex conj conjugate
complex_from_polar sum prod mean median var std maximum minimum divmod add sub mul
true_div int_div floor_div ceil_intdiv mod pow clip dot dense_dot tensordot outer any all
ptp power logaddexp logsumexp hyp2f1 nan_to_num
""".split()

#: pytensor.tensor.basic.__all__
PYTENSOR_BASIC = """
take_along_axis expand_dims atleast_Nd atleast_1d atleast_2d atleast_3d choose swapaxes
moveaxis stacklists diag diagonal inverse_permutation permute_row_elements mgrid ogrid
arange tile flatten is_flat vertical_stack horizontal_stack get_vector_length concatenate
stack roll join split transpose matrix_transpose default tensor_copy transfer alloc
identity_like eye triu tril tri nonzero_values flatnonzero nonzero ones zeros zeros_like
ones_like fill second where switch cast scalar_from_tensor tensor_from_scalar
get_scalar_constant_value get_underlying_scalar_constant_value constant
as_tensor_variable as_tensor extract_diag full full_like empty empty_like trace
tril_indices tril_indices_from triu_indices triu_indices_from
""".split()

#: pytensor.tensor.extra_ops.__all__
PYTENSOR_EXTRA_OPS = """
searchsorted cumsum cumprod diff bincount squeeze compress repeat bartlett fill_diagonal
fill_diagonal_offset unique unravel_index ravel_multi_index broadcast_shape broadcast_to
concat_with_broadcast geomspace logspace linspace broadcast_arrays
""".split()

#: re-exported by pytensor.tensor from its shape, sort, subtensor, pad, einsum, blas,
#: xlogx and gradient modules
PYTENSOR_OTHER = """
shape reshape specify_shape shape_padleft shape_padright shape_padaxis
specify_broadcastable unbroadcast sort argsort set_subtensor inc_subtensor take pad
einsum batched_dot batched_tensordot xlogx grad dimshuffle
""".split()

PYTENSOR_NAMES = sorted(set(PYTENSOR_MATH + PYTENSOR_BASIC + PYTENSOR_EXTRA_OPS
                            + PYTENSOR_OTHER))

#: Coverage (percent) measured when this test was written: it may only grow.
MEASURED = 92.5

#: Missing names and why (the rest of the missing names are simply not built yet).
MISSING_REASONS = {
    **dict.fromkeys(["real", "imag", "angle", "complex", "conj", "conjugate",
                     "complex_from_polar"], "no complex dtypes in cgraph"),
    **dict.fromkeys(["transfer"], "no devices other than the CPU"),
    **dict.fromkeys(["scalar_from_tensor", "tensor_from_scalar"],
                    "no scalar types apart from 0-d tensors"),
    **dict.fromkeys(["j0", "j1", "jv", "iv", "kv", "kve", "betaincinv"],
                    "special function not built yet (cgraph.tensor.special)"),
    **dict.fromkeys(["unbroadcast"], "not built yet (specify_shape states lengths)"),
}


def coverage() -> tuple[float, list[str]]:
    """The percentage of PYTENSOR_NAMES that cgraph.tensor has, and the missing names."""
    missing = [n for n in PYTENSOR_NAMES if not hasattr(T, n)]
    return 100.0 * (1 - len(missing) / len(PYTENSOR_NAMES)), missing


def test_pytensor_tensor_coverage():
    percent, missing = coverage()
    print(f"\ncgraph.tensor has {len(PYTENSOR_NAMES) - len(missing)} of PyTensor's "
          f"{len(PYTENSOR_NAMES)} public tensor names: {percent:.1f}% (target 90%)")
    for name in missing:
        print(f"  missing: {name}" + (f" ({MISSING_REASONS[name]})"
                                      if name in MISSING_REASONS else ""))
    assert percent >= MEASURED, (
        f"coverage of PyTensor's tensor API fell to {percent:.1f}% (was {MEASURED}%): "
        f"missing {missing}")


def test_the_name_lists_are_data_not_duplicates():
    for names in (PYTENSOR_MATH, PYTENSOR_BASIC, PYTENSOR_EXTRA_OPS, PYTENSOR_OTHER):
        assert all(n.isidentifier() for n in names)
    assert len(PYTENSOR_NAMES) > 250
