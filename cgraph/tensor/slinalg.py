"""Theano's and PyTensor's `tensor.slinalg` path: the functions of `cgraph.tensor.linalg`
that scipy.linalg has (Cholesky and the solves)."""

from cgraph.tensor.linalg import (
    Cholesky,
    CholeskySolve,
    Solve,
    SolveTriangular,
    cho_solve,
    cholesky,
    eigvalsh,
    solve,
    solve_triangular,
)

__all__ = ["Cholesky", "CholeskySolve", "Solve", "SolveTriangular", "cho_solve", "cholesky",
           "eigvalsh", "solve", "solve_triangular"]
