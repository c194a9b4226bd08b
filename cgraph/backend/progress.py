"""A line on stderr while a long compile runs.

A compile that ends within `delay` seconds (the common case: a warm cache, a small
graph) prints nothing. One that runs longer says what it compiles once `delay` has
passed, then how long it has run: on a terminal the same line is rewritten every second;
elsewhere (a log file, CI) a new line comes every `every_logged` seconds, so logs stay
short. The end of a reported compile is reported too. `config.compile_progress = False`
turns it off.

The reporter is a daemon thread waiting on an event, so the compile itself pays one
thread start (about 50 us) and never waits for the reporter.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["compile_progress"]


@contextmanager
def compile_progress(what: str, enabled: bool = True, delay: float = 2.0,
                     stream: TextIO | None = None, every_logged: float = 10.0
                     ) -> Iterator[None]:
    """Report on `stream` (default: stderr) while the block runs longer than `delay`.

    Parameters
    ----------
    what : str
        What is compiled, e.g. ``"42 kernels (310 kB of C)"``.
    enabled : bool
        False: report nothing (the block runs alone).
    delay : float
        Seconds of silence before the first report.
    stream : text stream, optional
        Where to write; a terminal gets one rewritten line.
    every_logged : float
        Seconds between reports when `stream` is not a terminal.
    """
    if not enabled:
        yield
        return
    out = stream if stream is not None else sys.stderr
    done = threading.Event()
    reported = threading.Event()
    started = time.perf_counter()
    tty = _isatty(out)

    def report() -> None:
        if done.wait(delay):
            return
        step = 1.0 if tty else every_logged
        while True:
            seconds = time.perf_counter() - started
            _write(out, f"cgraph: compiling {what}: {seconds:.0f} s", tty)
            reported.set()
            if done.wait(step):
                return

    thread = threading.Thread(target=report, name="cgraph-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if reported.is_set():
            seconds = time.perf_counter() - started
            _write(out, f"cgraph: compiled {what} in {seconds:.1f} s", tty, last=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _write(out: TextIO, text: str, tty: bool, last: bool = False) -> None:
    try:
        if tty:
            out.write("\r\x1b[K" + text + ("\n" if last else ""))
        else:
            out.write(text + "\n")
        out.flush()
    except (OSError, ValueError):  # stderr closed or full: the compile goes on
        pass
