"""cgraph's configuration: one object, read from `CGRAPH_FLAGS` once at import.

`CGRAPH_FLAGS="floatX=float32,mode=PY"` works like Theano's THEANO_FLAGS. Values
can also be assigned at run time (`cgraph.config.floatX = "float32"`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

_FLOAT_DTYPES = ("float32", "float64")
_MODES = ("C", "PY")


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
    """

    floatX: str = "float64"
    mode: str = "C"
    cc: str = os.environ.get("CC", "gcc")
    cflags: str = "-O3 -march=native -fno-math-errno -fopenmp-simd"
    sanitize: bool = False
    profile: bool = False

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
