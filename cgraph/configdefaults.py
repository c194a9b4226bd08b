"""cgraph's configuration: one object, `cgraph.config`, filled once at import.

Every setting is a documented flag (see `Config`, or `python -m cgraph config`).
Values come from, lowest precedence first:

1. the defaults below (`cc` defaults to `$CC`, else gcc);
2. a configuration file: `$CGRAPHRC` if set (several paths separated by `:`),
   else `~/.cgraphrc`, in INI form with a `[global]` section::

       [global]
       floatX = float32
       cflags = -O2

3. the environment: `CGRAPH_FLAGS="floatX=float32,cflags=-O2"` (Theano's THEANO_FLAGS);
4. assignment at run time (`cgraph.config.floatX = "float32"`), or
   `with cgraph.config.change_flags(floatX="float32"): ...` for a block.

An unknown flag is an error that suggests the closest known name. `cgraph.function`
reads the configuration once, when it is called, and passes it down.
"""

from __future__ import annotations

import configparser
import difflib
import os
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from cgraph.backend.build import DEFAULT_CFLAGS

__all__ = ["Config", "ConfigError", "UnknownFlagError", "change_flags", "config",
           "load_config"]


class ConfigError(ValueError):
    """A value that a flag cannot take (or an unknown flag: `UnknownFlagError`)."""


class UnknownFlagError(ConfigError, AttributeError):
    """A flag that does not exist; the message suggests the closest known one."""


def _suggest(word: str, choices: list[str]) -> str:
    """`; did you mean 'floatX'?` for the closest choice, or ""."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f"; did you mean {close[0]!r}?" if close else ""


# ------------------------------------------------------------------ value parsers
# Each takes (flag name, value given) and returns the stored value or raises.


def _choice(*options: str) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        text = "None" if value is None else str(value)
        if text not in options:
            raise ConfigError(f"config.{name} must be one of {options}, got {value!r}"
                              + _suggest(text, list(options)))
        return text
    parse.options = options  # type: ignore[attr-defined]  (the docs list them)
    return parse


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ConfigError(f"config.{name} must be a boolean (True/False, 1/0), got {value!r}")


def _count(name: str, value: Any) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < 0:
        raise ConfigError(f"config.{name} must be an integer >= 0, got {value!r}")
    return number


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config.{name} must be a string, got {value!r}")
    return value.strip()


def _names(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(filter(None, (part.strip() for part in value.split(":"))))
    return tuple(str(v) for v in value)


class WarnFlags:
    """Theano's `config.warn.*` flags (warnings about bugs of old Theano versions).

    They are accepted, so that programs setting them run (`config.warn.round = False`,
    `CGRAPH_FLAGS=warn.round=False`), and have no effect: cgraph has none of those
    bugs. A name Theano does not have raises `UnknownFlagError`.
    """

    NAMES = ("ignore_bug_before", "argmax_pushdown_bug", "gpusum_01_011_0111_bug",
             "sum_sum_bug", "sum_div_dimshuffle_bug", "subtensor_merge_bug",
             "gpu_set_subtensor1", "vm_gc_bug", "signal_conv2d_interface", "reduce_join",
             "inc_set_subtensor1", "round", "identify_1pexp_bug")

    def __init__(self) -> None:
        for name in self.NAMES:
            object.__setattr__(self, name, "0.9" if name == "ignore_bug_before" else False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.NAMES:
            raise UnknownFlagError(f"cgraph.config.warn has no flag {name!r}"
                                   + _suggest(name, list(self.NAMES)))
        object.__setattr__(self, name, str(value) if name == "ignore_bug_before"
                           else _boolean(f"warn.{name}", value))

    def __str__(self) -> str:
        return "accepted, no effect (Theano's warn.* flags)"


def _flag(default: Any, parse: Callable[[str, Any], Any], doc: str) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass
class Config:
    """The settings that change what cgraph builds and how it reports.

    Each flag is declared once, with its doc, in this class's body; the Attributes
    below and `describe()` (`python -m cgraph config`) are made from those docs.
    Theano's `warn.*` flags are accepted without effect under `warn` (`WarnFlags`).
    """

    floatX: str = _flag(
        "float64", _choice("float64", "float32"),
        "Default float dtype of `tensor.matrix()` & co. and of int/int division.")
    mode: str = _flag(
        "C", _choice("C", "PY", "DebugMode", "FAST_RUN", "FAST_COMPILE", "DEBUG_MODE"),
        'Default compilation mode: "C" (compiled), "PY" (the numpy reference of the graph '
        'before rewrites) or "DebugMode" (both on every call, compared); Theano\'s '
        '"FAST_RUN" is "C", "FAST_COMPILE" "C" with fewer rewrites (see `cgraph.function`).')
    optimizer: str = _flag(
        "fast_run", _choice("fast_run", "fast_compile", "None"),
        "Graph rewrites before lowering: all passes, merge and constant folding only, "
        "or the graph as built.")
    rewrite_exclude: tuple[str, ...] = _flag(
        (), _names,
        "Rewrite passes to skip (names in `cgraph.rewrite.PASSES`); in text form "
        "`fusion:merge`.")
    cache_dir: str = _flag(
        "", _text,
        'Where compiled modules are kept; "" means `$CGRAPH_CACHE_DIR`, else '
        "`$XDG_CACHE_HOME/cgraph`, else `~/.cache/cgraph`.")
    cc: str = _flag(
        os.environ.get("CC", "gcc"), _text, "The C compiler (default: `$CC`, else gcc).")
    cflags: str = _flag(
        " ".join(DEFAULT_CFLAGS), _text,
        "Optimization flags for generated C (never -ffast-math: it breaks NaN/Inf). "
        "Every module is also compiled with -ffp-contract=off (no fused multiply-add: "
        "each operation rounds as numpy's does) and -fwrapv (integers wrap as numpy's "
        "do), whatever this holds; a later -ffp-contract here overrides it.")
    openmp: bool = _flag(
        False, _boolean,
        "Compile and link with -fopenmp instead of -fopenmp-simd alone: elementwise "
        "loops of at least 32768 elements and reductions of at least 131072 run on "
        "OpenMP threads (csrc/cg_omp.h; sums keep the same value for any thread count). "
        "Off by default: a call after an idle gap waits for its threads to wake (README, "
        '"Performance").')
    num_threads: int = _flag(
        0, _count,
        "Threads for OpenMP regions (0: OpenMP's default), given to the C as "
        "`CG_NUM_THREADS`; only used with `openmp`.")
    blas_threads: str = _flag(
        "auto", _choice("auto", "library"),
        'How many threads a BLAS product runs on. "auto": each size class of product is '
        "timed on one thread and on OpenBLAS's threads, and runs on the faster (re-timed "
        "now and then), so a product neither stalls when the other cores are busy nor "
        'loses the second core when they are free (csrc/cg_blas_threads.h); LAPACK ops on '
        "matrices of order below 512 run on one thread. \"library\": OpenBLAS decides, as "
        "in numpy.")
    blas_one_thread_below: int = _flag(
        0, _count,
        "Always run matrix products of fewer multiply-adds than this on one BLAS thread "
        "(0: no such rule).")
    profile: bool = _flag(
        False, _boolean,
        "Compile every function with per-kernel timers (`f.profile.summary()`).")
    sanitize: bool = _flag(
        False, _boolean,
        "Build generated C with AddressSanitizer and UndefinedBehaviorSanitizer.")
    c_call: bool = _flag(
        True, _boolean,
        "Call compiled functions through the C call path (csrc/cg_fastcall.h: argument "
        "checks, plan lookup and output allocation in C); False keeps the Python one.")
    exception_verbosity: str = _flag(
        "low", _choice("low", "high"),
        '"high" adds, to errors raised when a compiled function runs, the nodes that '
        "feed the failing one with their shapes and the lines that created them.")
    compile_progress: bool = _flag(
        True, _boolean,
        "A compile running longer than 2 s says so on stderr (what it compiles and for "
        "how long; one rewritten line on a terminal); False keeps it silent.")

    @property
    def warn(self) -> WarnFlags:
        """Theano's `warn.*` flags, accepted without effect (not a flag of `describe`)."""
        flags = self.__dict__.get("_warn")
        if flags is None:
            flags = self.__dict__["_warn"] = WarnFlags()
        return flags

    def __setattr__(self, name: str, value: object) -> None:
        spec = _FIELDS.get(name)
        if spec is None:
            raise UnknownFlagError(f"cgraph.config has no flag {name!r}"
                                   + _suggest(name, list(_FIELDS)))
        object.__setattr__(self, name, spec.metadata["parse"](name, value))
        sources = self.__dict__.get("_sources")
        if sources is not None:
            sources[name] = "assigned"

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not set: give the suggestion there too.
        if name.startswith("__") or name == "_sources":
            raise AttributeError(name)
        raise AttributeError(f"cgraph.config has no flag {name!r}"
                             + _suggest(name, list(_FIELDS)))

    def set_from(self, source: str, name: str, value: Any) -> None:
        """Set one flag (`value` parsed as the flag says) and remember where it came from.

        Parameters
        ----------
        source : str
            For `describe()`: "file ~/.cgraphrc", "CGRAPH_FLAGS", ...
        name, value
            The flag and its value (text is parsed).
        """
        group, dot, member = name.partition(".")
        if dot and group == "warn":  # warn.round=False: Theano's dotted flag names
            setattr(self.warn, member, value)
        else:
            setattr(self, name, value)
        self.__dict__.setdefault("_sources", {})[name] = source

    def source_of(self, name: str) -> str:
        """Where the current value of flag `name` came from ("default" when unset)."""
        return self.__dict__.get("_sources", {}).get(name, "default")

    def describe(self) -> str:
        """Every flag with its value, where the value came from, and what it does."""
        lines = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = ":".join(value) if isinstance(value, tuple) else str(value)
            lines.append(f"{f.name:<20} = {shown!s:<44} [{self.source_of(f.name)}]")
            lines.extend(textwrap.wrap(f.metadata["doc"], 88, initial_indent="    ",
                                       subsequent_indent="    "))
        return "\n".join(lines)

    def __copy__(self) -> Config:
        twin = object.__new__(Config)
        twin.__dict__.update(self.__dict__)
        if "_sources" in self.__dict__:
            twin.__dict__["_sources"] = dict(self.__dict__["_sources"])
        return twin

    @contextmanager
    def change_flags(self, **flags: Any) -> Iterator[Config]:
        """Set some flags inside a `with` block and restore them after it.

        Example: `with cgraph.config.change_flags(rewrite_exclude=["fusion"]): ...`
        """
        saved = {name: getattr(self, name) for name in flags}
        saved_sources = dict(self.__dict__.get("_sources", {}))
        try:
            for name, value in flags.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in saved.items():
                object.__setattr__(self, name, value)
            if "_sources" in self.__dict__:
                self.__dict__["_sources"] = saved_sources


_FIELDS = {f.name: f for f in fields(Config)}


def _attributes_doc() -> str:
    """The numpy-style Attributes section of `Config`, made from the flags' docs."""
    lines = ["", "Attributes", "----------"]
    for f in fields(Config):
        options = getattr(f.metadata["parse"], "options", None)
        kind = "{" + ", ".join(f'"{o}"' for o in options) + "}" if options else str(f.type)
        lines.append(f"{f.name} : {kind.replace('tuple[str, ...]', 'tuple of str')}")
        lines.extend(textwrap.wrap(f.metadata["doc"], 84, initial_indent="    ",
                                   subsequent_indent="    "))
    return textwrap.indent("\n".join(lines), "    ") + "\n"


if Config.__doc__:  # None under python -OO
    Config.__doc__ = Config.__doc__.rstrip(" ") + _attributes_doc()


def parse_flags(text: str) -> list[tuple[str, str]]:
    """`"floatX=float32,cflags=-O2 -g"` -> [("floatX", "float32"), ("cflags", "-O2 -g")]."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"CGRAPH_FLAGS: expected key=value, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def rc_paths(environ: dict[str, str]) -> list[str]:
    """The configuration files read, in order: `$CGRAPHRC` or `~/.cgraphrc`."""
    if "CGRAPHRC" in environ:
        return [p for p in environ["CGRAPHRC"].split(os.pathsep) if p]
    home = environ.get("HOME") or os.path.expanduser("~")
    return [os.path.join(home, ".cgraphrc")]


def load_config(environ: dict[str, str] | None = None) -> Config:
    """A Config from the defaults, the rc file(s) and `CGRAPH_FLAGS`, in that order.

    Parameters
    ----------
    environ : dict, optional
        The environment to read (default: `os.environ`).

    Raises
    ------
    ConfigError
        For an unknown flag (with the closest name) or a bad value; the message
        names the file or variable it came from.
    """
    environ = dict(os.environ) if environ is None else environ
    cfg = Config()
    object.__setattr__(cfg, "_sources", {})
    for path in rc_paths(environ):
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # flag names are case-sensitive (floatX)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as err:
            raise ConfigError(f"{path}: {err}") from None
        for section in parser.sections():
            if section != "global":
                raise ConfigError(f"{path}: unknown section [{section}]; put flags under "
                                  "[global]")
            for key, value in parser.items(section):
                _set_reporting(cfg, f"file {path}", key, value)
    for key, value in parse_flags(environ.get("CGRAPH_FLAGS", "")):
        _set_reporting(cfg, "CGRAPH_FLAGS", key, value)
    return cfg


def _set_reporting(cfg: Config, source: str, key: str, value: str) -> None:
    try:
        cfg.set_from(source, key, value)
    except ConfigError as err:
        raise type(err)(f"{source}: {err}") from None


config = load_config()
change_flags = config.change_flags
