"""cgraph.tensor.linalg: LAPACK (of scipy-openblas32) on stacks of matrices, with the
names of PyTensor's `tensor.linalg` (also importable as `cgraph.tensor.nlinalg` and
`cgraph.tensor.slinalg`, Theano's modules).

The LAPACK ops (cholesky, solve, solve_triangular, cho_solve, inv, det, slogdet, eigh,
lu, lu_factor, lu_solve, expm on square matrices (..., n, n); qr and svd on any
(..., m, n)) map over the leading axes, which broadcast between operands (PyTensor's
Blockwise); float32 and float64 only. Each has a C kernel (templates/lapack*.c.j2), a
numpy reference (mode PY) and a reverse-mode gradient where the math defines one.
pinv, lstsq, norm, kron, matrix_power, block_diag, tensorsolve and tensorinv are built
from those and other ops (functions.py). A singular matrix, or one not positive
definite for `cholesky`, raises numpy.linalg.LinAlgError (a ValueError) in modes C and
PY, naming the node and the line that built it, as PyTensor does;
`cholesky(..., on_error="nan")` gives NaN instead, `det`/`slogdet` give 0 and (0, -inf)
as numpy, and `lu`/`lu_factor` factor it (U has a zero pivot) as scipy. `eig` (geev)
returns complex results as real arrays with (real, imag) pairs on a last axis of length
2, since cgraph has no complex dtypes; `as_complex` gives numpy's complex view of them.
"""

from cgraph.tensor.linalg.base import LapackOp
from cgraph.tensor.linalg.decomp import (
    Cholesky,
    Det,
    Eigh,
    MatrixInverse,
    SLogDet,
    cholesky,
    det,
    eigh,
    eigvalsh,
    matrix_inverse,
    slogdet,
)
from cgraph.tensor.linalg.decomp import (
    inv as inv,  # numpy.linalg.inv, not in __all__ (see below)
)
from cgraph.tensor.linalg.eig import Eig, as_complex, eig
from cgraph.tensor.linalg.expm import Expm, expm
from cgraph.tensor.linalg.functions import (
    block_diag,
    kron,
    lstsq,
    matrix_power,
    norm,
    pinv,
    tensorinv,
    tensorsolve,
)
from cgraph.tensor.linalg.lu import LU, LUFactor, LUSolve, lu, lu_factor, lu_solve
from cgraph.tensor.linalg.rect import QR, SVD, PInv, qr, svd
from cgraph.tensor.linalg.solve import (
    CholeskySolve,
    Solve,
    SolveTriangular,
    cho_solve,
    solve,
    solve_triangular,
)

__all__ = [
    "Cholesky", "CholeskySolve", "Det", "Eig", "Eigh", "Expm", "LU", "LUFactor", "LUSolve",
    "LapackOp", "MatrixInverse", "PInv", "QR", "SLogDet", "SVD", "Solve",
    "SolveTriangular", "as_complex", "block_diag", "cho_solve", "cholesky", "det", "eig",
    "eigh", "eigvalsh",
    "expm", "kron", "lstsq", "lu", "lu_factor", "lu_solve", "matrix_inverse",
    "matrix_power", "norm", "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd",
    "tensorinv", "tensorsolve",
]  # and `inv`, numpy's name of matrix_inverse (left out: cgraph.tensor.inv is 1/x)
