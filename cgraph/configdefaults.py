"""cgraph's configuration: one object, read from `CGRAPH_FLAGS` once at import.

`CGRAPH_FLAGS="floatX=float32,mode=PY"` works like Theano's THEANO_FLAGS. Values
can also be assigned at run time (`cgraph.config.floatX = "float32"`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

_FLOAT_DTYPES = ("float32", "float64")
_MODES = ("C", "PY")
_OPTIMIZERS = ("fast_run", "fast_compile", "None")


@dataclass
class Config:
    """The settings that change what cgraph builds.

    Attributes
    ----------
    floatX : str
        Default float dtype of `tensor.matrix()` & co. and of int/int division.
    mode : str
        Default compilation mode: "C" (compiled) or "PY" (numpy reference).
    cc : str
        The C compiler (default: `$CC`, else gcc).
    cflags : str
        Optimization flags for generated C (never -ffast-math: it breaks NaN/Inf).
    profile : bool
        Compile every function with per-kernel timers (`f.profile.summary()`).
    sanitize : bool
        Build generated C with AddressSanitizer and UndefinedBehaviorSanitizer (a
        debugging mode: run Python with the sanitizer runtimes preloaded, see README).
    optimizer : str
        Graph rewrites before lowering: "fast_run" (all passes), "fast_compile"
        (merge and constant folding only) or "None" (the graph as built).
    rewrite_exclude : tuple of str
        Names of rewrite passes to skip (see `cgraph.rewrite.PASSES`); from
        CGRAPH_FLAGS as `rewrite_exclude=fusion:merge`.
    """

    floatX: str = "float64"
    mode: str = "C"
    cc: str = os.environ.get("CC", "gcc")
    cflags: str = "-O3 -march=native -fno-math-errno -fopenmp-simd"
    sanitize: bool = False
    profile: bool = False
    optimizer: str = "fast_run"
    rewrite_exclude: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        if name not in {f.name for f in fields(self)}:
            raise AttributeError(f"cgraph.config has no setting {name!r}")
        if name == "floatX" and value not in _FLOAT_DTYPES:
            raise ValueError(f"config.floatX must be one of {_FLOAT_DTYPES}, got {value!r}")
        if name in ("sanitize", "profile") and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"config.{name} must be a boolean, got {value!r}")
            value = value.lower() in ("true", "1")
        if name == "mode" and value not in _MODES:
            raise ValueError(f"config.mode must be one of {_MODES}, got {value!r}")
        if name == "optimizer":
            value = "None" if value is None else value
            if value not in _OPTIMIZERS:
                raise ValueError(f"config.optimizer must be one of {_OPTIMIZERS}, "
                                 f"got {value!r}")
        if name == "rewrite_exclude":
            value = tuple(filter(None, value.split(":"))) if isinstance(value, str) else (
                tuple(value))
        object.__setattr__(self, name, value)

    @contextmanager
    def change_flags(self, **flags: Any) -> Iterator[Config]:
        """Set some settings inside a `with` block and restore them after it.

        Example: `with cgraph.config.change_flags(rewrite_exclude=["fusion"]): ...`
        """
        saved = {name: getattr(self, name) for name in flags}
        try:
            for name, value in flags.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in saved.items():
                object.__setattr__(self, name, value)


def _from_environment() -> Config:
    cfg = Config()
    flags = os.environ.get("CGRAPH_FLAGS", "")
    for item in filter(None, (part.strip() for part in flags.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"CGRAPH_FLAGS: expected key=value, got {item!r}")
        setattr(cfg, key.strip(), value.strip())
    return cfg


config = _from_environment()
change_flags = config.change_flags
