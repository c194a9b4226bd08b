"""cgraph's pytest plugin, active wherever cgraph is installed (entry point `pytest11`).

It adds, for a user's own test suite:

- the options ``--cgraph-mode=C|PY|both`` (every function the tests compile runs in
  that mode; ``both`` is ``"DebugMode"``: C and the numpy reference on every call,
  compared), ``--cgraph-sanitize`` (modules built with AddressSanitizer and UBSan; the
  run stops at once with the command line to use when the runtime is not preloaded),
  and ``--cgraph-keep-cache``;
- the fixtures ``cgraph_cache`` (a private cache folder for the session, removed
  afterwards unless ``--cgraph-keep-cache``) and ``cgraph_config`` (set flags for one
  test: ``cgraph_config(floatX="float32")``);
- the marker ``requires_cc``: the test is skipped, with the reason, when no C compiler
  is found;
- a line at the end of the run: modules compiled, compile time and cache hits.

Nothing happens unless an option, fixture or marker is used: cgraph is imported only
then, so a test session that never touches cgraph pays nothing for the plugin.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

MODES = {"C": "C", "PY": "PY", "both": "DebugMode"}
_BASELINE = pytest.StashKey[dict]()
_RESTORE = pytest.StashKey[ExitStack]()
_KEPT = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cgraph", "cgraph (compiled tensor functions)")
    group.addoption("--cgraph-mode", choices=sorted(MODES), default=None,
                    help="run every cgraph function in this mode: C, PY (the numpy "
                         "reference) or both (C checked against the reference on every "
                         "call, the first disagreeing node named)")
    group.addoption("--cgraph-sanitize", action="store_true", default=False,
                    help="build every cgraph module with AddressSanitizer and UBSan "
                         "(the ASan runtime must be preloaded: the run says how)")
    group.addoption("--cgraph-keep-cache", action="store_true", default=False,
                    help="keep the cgraph_cache fixture's folder after the run")


def _cgraph_stats() -> dict[str, float] | None:
    """The compile counters of this process, or None when cgraph is not imported."""
    backend = sys.modules.get("cgraph.backend")
    return None if backend is None else backend.stats.as_dict()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_cc: skip the test when no C compiler is found (cgraph)")
    config.stash[_BASELINE] = _cgraph_stats() or {}
    mode, sanitize = config.getoption("cgraph_mode"), config.getoption("cgraph_sanitize")
    if mode is None and not sanitize:
        return
    import cgraph
    stack = ExitStack()
    flags: dict[str, Any] = {}
    if mode is not None:
        flags["mode"] = MODES[mode]
    if sanitize:
        flags["sanitize"] = True
    stack.enter_context(cgraph.config.change_flags(**flags))
    config.stash[_RESTORE] = stack
    if sanitize:
        _check_sanitizer_runtime()


def _check_sanitizer_runtime() -> None:
    import cgraph
    from cgraph.backend.build import SanitizerRuntimeError, check_sanitizer_runtime
    from cgraph.compile.toolchain import build_options
    try:
        check_sanitizer_runtime(build_options(cgraph.config))
    except SanitizerRuntimeError as err:
        raise pytest.UsageError(f"--cgraph-sanitize: {err}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_RESTORE, None)
    if stack is not None:
        stack.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked `requires_cc` when no C compiler is found (checked once)."""
    marked = [item for item in items if item.get_closest_marker("requires_cc") is not None]
    reason = no_compiler_reason() if marked else ""
    for item in marked if reason else ():
        item.add_marker(pytest.mark.skip(reason=f"requires_cc: {reason}"))


def no_compiler_reason() -> str:
    """Why cgraph cannot compile C here (no compiler found), or "" when it can."""
    import cgraph
    from cgraph.backend.build import CompilerNotFoundError, find_compiler
    try:
        find_compiler(cgraph.config.cc)
    except CompilerNotFoundError as err:
        return str(err).splitlines()[0]
    return ""


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kept = config.stash.get(_KEPT, None)
    if kept is not None:
        terminalreporter.write_line(f"cgraph: the test cache is kept in {kept}")
    now = _cgraph_stats()
    if now is None:
        return
    before = config.stash.get(_BASELINE, {})
    d = {k: v - before.get(k, 0) for k, v in now.items()}
    if not any(d.values()):
        return
    seconds = d.get("compile_seconds")
    spent = f" in {seconds:.1f} s" if seconds is not None else ""
    n = d["compiles"]
    terminalreporter.write_line(
        f"cgraph: {n} module{'' if n == 1 else 's'} compiled{spent}, {d['disk_hits']} "
        f"loaded from the disk cache, {d['memo_hits']} reused in memory")


@pytest.fixture(scope="session")
def cgraph_cache(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A private cgraph cache folder for the whole test session.

    Every module compiled while it is active is stored there; the folder is removed
    after the session unless pytest runs with ``--cgraph-keep-cache`` (then the run's
    summary gives its path).
    """
    import cgraph
    folder = Path(tempfile.mkdtemp(prefix="cgraph-cache-"))
    with cgraph.config.change_flags(cache_dir=str(folder)):
        yield folder
    if request.config.getoption("cgraph_keep_cache"):
        request.config.stash[_KEPT] = folder
    else:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cgraph_config() -> Iterator[Callable[..., None]]:
    """Set cgraph flags for one test: ``cgraph_config(floatX="float32", mode="PY")``.

    The flags go back to their values when the test ends (however it ends); a flag
    that does not exist is an error naming the closest one.
    """
    import cgraph
    with ExitStack() as stack:
        def set_flags(**flags: Any) -> None:
            stack.enter_context(cgraph.config.change_flags(**flags))
        yield set_flags
