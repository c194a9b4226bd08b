"""Shared fixtures: every test session compiles into its own cache folder."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory):
    """Point CGRAPH_CACHE_DIR at a fresh folder so tests never touch the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cgraph-cache")
        mp.setenv("CGRAPH_CACHE_DIR", str(path))
        yield path


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for one test, and no module remembered from before."""
    from cgraph.backend import cache

    root = tmp_path / "cache"
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(root))
    monkeypatch.setattr(cache, "_memo", {})
    return root


@pytest.fixture
def verify_grads():
    """verify_grad of several one-input functions in one compiled check: input k feeds
    fns[k] only, and each output enters the cost linearly and squared, so every element
    counts; a failure names the input (the function) that is wrong."""
    import cgraph.tensor as T
    from cgraph.gradient import verify_grad

    def check(fns: list, points: list, rng) -> None:
        def total(*vs):
            outs = [f(v) for f, v in zip(fns, vs, strict=True)]
            return sum(T.sum(o) * (1 + 0.25 * k) + 0.3 * T.sum(T.sqr(o))
                       for k, o in enumerate(outs))
        verify_grad(total, points, rng=rng)

    return check
