"""Theano's and PyTensor's `tensor.slinalg` path: the functions of `cgraph.tensor.linalg`
that scipy.linalg has (Cholesky, LU and the solves, qr, svd,
block_diag, kron, expm)."""

from cgraph.tensor.linalg import (
    LU,
    QR,
    SVD,
    Cholesky,
    CholeskySolve,
    Expm,
    LUFactor,
    LUSolve,
    Solve,
    SolveTriangular,
    block_diag,
    cho_solve,
    cholesky,
    eigvalsh,
    expm,
    kron,
    lu,
    lu_factor,
    lu_solve,
    qr,
    solve,
    solve_triangular,
    svd,
)

__all__ = ["LU", "QR", "SVD", "Cholesky", "CholeskySolve", "Expm", "LUFactor", "LUSolve",
           "Solve", "SolveTriangular", "block_diag", "cho_solve", "cholesky", "eigvalsh", "expm",
           "kron", "lu", "lu_factor", "lu_solve", "qr", "solve", "solve_triangular", "svd"]
