"""The cache's identity: what keys a module besides its source, the private folders
it keeps, and the leftovers of killed builds.

A cache folder may be shared by machines (a cluster's home directory): every way to
a module, the program index of warm starts included, must key on the compiler, the
host CPU (modules use -march=native), the flags, the Python ABI, cffi and cgraph.
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph import backend
from cgraph.backend import cache


def _compiled(expr_seed: float):
    x = T.dvector("x")
    return cgraph.function([x], T.exp(x) * expr_seed + 1.0)


IDENTITIES = {
    "host_cpu": lambda mp: mp.setattr(cache, "host_cpu", lambda: "cpu another-machine"),
    "compiler": lambda mp: mp.setattr(cache, "compiler_identity",
                                      lambda cc, folder: "/usr/bin/gcc 1 2\ngcc 99.1"),
    "cffi/ABI": lambda mp: mp.setattr(cache, "_KEY_PREFIX", "cgraph-backend 0\0cffi 0\0.so"),
}


@pytest.mark.parametrize("which", list(IDENTITIES))
def test_program_index_misses_for_another_machine(fresh_cache, monkeypatch, which):
    """The warm-start index never hands out another identity's module."""
    first = _compiled(2.5)
    x = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(first(x), np.exp(x) * 2.5 + 1.0)
    same = _compiled(2.5)  # same identity: found (memo or index), not compiled
    assert same._module.key == first._module.key
    monkeypatch.setattr(cache, "_memo", {})
    IDENTITIES[which](monkeypatch)
    compiles = backend.stats.compiles
    other = _compiled(2.5)
    assert other._module.key != first._module.key, "loaded the other machine's module"
    assert not other._module.from_cache and backend.stats.compiles > compiles
    np.testing.assert_allclose(other(x), np.exp(x) * 2.5 + 1.0)


def test_index_lookup_keys_on_the_options(fresh_cache, monkeypatch):
    """load_indexed with another identity or other options finds nothing."""
    options = backend.default_options()
    source = "int cg_ix_run(int a) { return a + 1; }\n"
    cdef = "int cg_ix_run(int a);"
    module = backend.load_module(source, cdef, options)
    backend.record_index("ab" * 32, module, options)
    assert backend.load_indexed("ab" * 32, options).key == module.key
    other = backend.BuildOptions(cc=options.cc, cflags=("-O1",))
    assert backend.load_indexed("ab" * 32, other) is None
    monkeypatch.setattr(cache, "host_cpu", lambda: "cpu another-machine")
    assert backend.load_indexed("ab" * 32, options) is None
