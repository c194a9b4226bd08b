"""Shared fixtures, and the split of the suite into a quick run and a slow set.

`python -m pytest -q` runs the quick run: the tests marked `slow` (sanitizer runs, soak,
installs, child processes and forks, the fuzzer, the long tables) are left out.
`python -m pytest -q -m slow` runs the slow set. Any `-m` expression decides alone
(`-m "slow or not slow"` runs both sets), and the tests of a file or node id named on
the command line always run (`python -m pytest tests/compile/test_fuzz.py`). The README
adds `-n auto --dist loadfile` (pytest-xdist) to both commands: one worker per core
collects and runs whole files, each worker with its own cache folder (`private_cache_dir`,
under the worker's own basetemp); a test must not depend on what another file ran before.

The test files sit in folders that mirror the package (tests/graph, tests/kernel,
tests/tensor, ..., tests/programs for whole programs, tests/project for checks of the
repository); there is no __init__.py, so basenames are unique across the tree. pytest
puts this folder on `sys.path` when it loads this file, so `from helpers import ...`
(the shared helpers, `helpers.py`) works from every folder.
"""

from pathlib import Path

import pytest

SLOW_LEFT_OUT = pytest.StashKey[int]()


def _named(config) -> list[tuple[Path, str]]:
    """The (file, test name or "") pairs that the command line names: files and node ids,
    not folders."""
    named = []
    for arg in config.args:
        path, _, name = arg.partition("::")
        path = (config.invocation_params.dir / path).resolve()
        if path.is_file():
            named.append((path, name))
    return named


def _is_named(item, named: list[tuple[Path, str]]) -> bool:
    inside = item.nodeid.partition("::")[2]
    return any(item.path == path and (not name or inside == name
                                      or inside.startswith((name + "::", name + "[")))
               for path, name in named)


def pytest_collection_modifyitems(config, items):
    """Without `-m`, leave the slow tests out, except those of named files and node ids."""
    if config.option.markexpr:
        return
    named = _named(config)
    slow = [i for i in items if i.get_closest_marker("slow") and not _is_named(i, named)]
    if slow:
        left_out = set(slow)
        config.hook.pytest_deselected(items=slow)
        items[:] = [i for i in items if i not in left_out]
    config.stash[SLOW_LEFT_OUT] = len(slow)
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: tell the controller
        config.workeroutput["slow_left_out"] = len(slow)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Under pytest-xdist (`-n 2`) the workers collect; the controller prints their count."""
    left_out = getattr(node, "workeroutput", {}).get("slow_left_out", 0)
    node.config.stash[SLOW_LEFT_OUT] = max(left_out, node.config.stash.get(SLOW_LEFT_OUT, 0))


def pytest_terminal_summary(terminalreporter, config):
    left_out = config.stash.get(SLOW_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"{left_out} slow tests left out; `python -m pytest -q -m slow` runs them")


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
    """verify_grad of several functions with one compiled module (helpers.verify_grad_cases,
    whose check of each function is that of the function alone): `points[k]` feeds
    `fns[k]` only, as its one input, or as its inputs when it is a tuple; a failure names
    the function (by number) and its input."""
    from helpers import verify_grad_cases

    def check(fns: list, points: list, rng) -> None:
        groups = [p if isinstance(p, tuple) else (p,) for p in points]
        assert len(groups) == len(fns), (len(groups), len(fns))
        verify_grad_cases({f"function {k}": (f, list(group))
                           for k, (f, group) in enumerate(zip(fns, groups))}, rng=rng)

    return check


@pytest.fixture
def no_compiler(tmp_path):
    """No C compiler for one test: `config.cc` names a program that does not exist, so
    a compile would raise CompilerNotFoundError; and the test must compile or load no
    module at all (from the disk or from memory). For the unit tests of lowering and
    plans (`pytestmark = pytest.mark.usefixtures("no_compiler")`)."""
    import cgraph
    from cgraph import backend

    saved = cgraph.config.cc
    before = backend.stats.as_dict()
    cgraph.config.cc = str(tmp_path / "no-such-dir" / "cc")
    try:
        yield
    finally:
        cgraph.config.cc = saved
    after = backend.stats.as_dict()
    used = {k: after[k] - before[k] for k in ("compiles", "disk_hits", "memo_hits")}
    assert not any(used.values()), f"a test without a compiler loaded modules: {used}"
