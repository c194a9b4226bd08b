"""Shared fixtures: every test session compiles into its own cache folder."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory):
    """Point CGRAPH_CACHE_DIR at a fresh folder so tests never touch the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cgraph-cache")
        mp.setenv("CGRAPH_CACHE_DIR", str(path))
        yield path
