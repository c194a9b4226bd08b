"""The C of every LAPACK kernel family branch compiles without warnings (-Wall -Wextra
-Werror), with scipy-openblas32 (CG_BLAS) and without it."""

from __future__ import annotations

import subprocess

import pytest

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir
from cgraph.tensor import linalg as la


@pytest.mark.slow
def test_lapack_kernels_are_warning_free(tmp_path):
    x, f3, piv, b = T.dmatrix("x"), T.ftensor3("f"), T.ivector("p"), T.dmatrix("b")
    outs = [*la.qr(x), la.qr(x, "r"), *la.qr(x, "complete"), *la.qr(f3, "raw"), *la.svd(x),
            la.svd(x, compute_uv=False), *la.svd(f3, False), la.pinv(x), la.pinv(f3),
            *la.lu(x), *la.lu(x, p_indices=True), *la.lu(f3, permute_l=True),
            *la.lu_factor(x), la.lu_solve((x, piv), b), la.lu_solve((x, piv), b, 1),
            la.expm(x), la.expm(f3), la.cholesky(x), la.cholesky(x, on_error="nan"),
            la.solve(x, b), la.solve(x, b, assume_a="sym"), la.solve(x, b, assume_a="pos"),
            la.solve_triangular(x, b), la.cho_solve((x, True), b), la.det(x),
            *la.slogdet(x), *la.eigh(x), la.eigvalsh(x), la.inv(x), *la.eig(x), *la.eig(f3)]
    f = cgraph.function([x, f3, piv, b], outs)
    source = tmp_path / "lapack.c"
    source.write_text(f.c_source)
    blas = [flag for flag in f.build_options.cflags if flag.startswith(("-I", "-D"))]
    for defines in (blas, []):
        subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                        "-Werror", f"-I{csrc_dir()}", *defines, str(source)], check=True)
