"""The line on stderr while a long compile runs (cgraph/backend/progress.py)."""

from __future__ import annotations

import functools
import io
import time

import numpy as np

import cgraph
import cgraph.tensor as T
from cgraph.backend import progress
from cgraph.compile import compiled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_short_compile_says_nothing():
    out = io.StringIO()
    with progress.compile_progress("3 kernels", stream=out):
        pass
    assert out.getvalue() == ""


def test_a_long_compile_says_what_and_how_long_in_a_log():
    out = io.StringIO()
    with progress.compile_progress("40 kernels (300 kB of C)", delay=0.01, stream=out,
                                   every_logged=0.05):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("cgraph: compiling 40 kernels (300 kB of C): ")
    assert lines[-1].startswith("cgraph: compiled 40 kernels (300 kB of C) in ")
    assert len(lines) >= 3 and "\r" not in out.getvalue()


def test_a_terminal_gets_one_rewritten_line():
    out = Terminal()
    with progress.compile_progress("2 kernels", delay=0.01, stream=out):
        time.sleep(0.05)
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kcgraph: compiling 2 kernels: ")
    assert text.endswith("\n") and text.count("\n") == 1
    assert "\r\x1b[Kcgraph: compiled 2 kernels in " in text


def test_disabled_says_nothing():
    out = io.StringIO()
    with progress.compile_progress("2 kernels", enabled=False, delay=0.0, stream=out):
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_an_error_in_the_compile_still_ends_the_line():
    out = io.StringIO()
    try:
        with progress.compile_progress("2 kernels", delay=0.0, stream=out):
            time.sleep(0.05)
            raise RuntimeError("gcc failed")
    except RuntimeError:
        pass
    assert out.getvalue().splitlines()[-1].startswith("cgraph: compiled 2 kernels in ")


def test_a_function_compile_reports_its_kernels(tmp_path, monkeypatch, capfd):
    """Wired into the build of a function's module, and off with the flag."""
    monkeypatch.setattr(compiled, "compile_progress",
                        functools.partial(progress.compile_progress, delay=0.0))
    x = T.vector("x")
    for enabled, name in ((True, "on"), (False, "off")):
        with cgraph.config.change_flags(cache_dir=str(tmp_path / name),
                                        compile_progress=enabled):
            f = cgraph.function([x], T.exp(x).sum() + x.max())
        np.testing.assert_allclose(f(np.ones(3)), 3 * np.e + 1)
        err = capfd.readouterr().err
        if enabled:
            assert "cgraph: compiling " in err and " kernels (" in err and "kB of C)" in err
        else:
            assert "cgraph: compil" not in err
