"""The cache never loads native code that another user could have written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.backend import CacheSecurityError, cache, cache_dir

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")



def os_path_entry(f) -> Path:
    """The cache entry folder of a compiled function."""
    return Path(f.c_path).parent


def build(offset: float):
    x = T.dvector("x")
    return cgraph.function([x], x * 2.0 + offset)


def test_new_cache_dir_is_private(fresh_cache):
    f = build(0.25)
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0) * 2 + 0.25)
    assert cache_dir() == fresh_cache and fresh_cache.stat().st_mode & 0o077 == 0


def test_cache_dir_writable_by_others_is_refused(fresh_cache):
    fresh_cache.mkdir(mode=0o700)
    fresh_cache.chmod(0o777)
    with pytest.raises(CacheSecurityError, match="other users can write.*chmod go-w"):
        build(0.5)


def test_entry_folder_writable_by_others_is_refused(fresh_cache):
    f = build(0.75)
    entry = os_path_entry(f)
    entry.chmod(0o777)
    cache._memo.clear()
    with pytest.raises(CacheSecurityError, match="cache entry"):
        build(0.75)


@ROOT_ONLY
def test_cache_dir_owned_by_someone_else_is_refused(fresh_cache):
    fresh_cache.mkdir(mode=0o700)
    os.chown(fresh_cache, 65534, -1)
    with pytest.raises(CacheSecurityError, match="belongs to uid 65534"):
        build(1.5)


@ROOT_ONLY
def test_module_owned_by_someone_else_is_refused(fresh_cache):
    f = build(1.75)
    so = next(p for p in os_path_entry(f).iterdir() if p.suffix == ".so")
    os.chown(so, 65534, -1)
    cache._memo.clear()
    with pytest.raises(CacheSecurityError, match="cached module"):
        build(1.75)
