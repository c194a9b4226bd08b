"""What identifies a module: the cache key, made of everything that decides its code.

A module's key is the sha256 of its identity and of what it is compiled from. The
identity is what decides the machine code besides the source: cgraph's version, what a
module is (`build.MODULE_FORMAT`), the Python ABI, the flags every module is built with, the host
CPU (for -march=native builds), the compiler and every build option. Nothing in it is
bumped by hand: a change to any of them is a new key.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from pathlib import Path

from cgraph._version import __version__
from cgraph.backend.build import BASE_FLAGS, MODULE_FORMAT, BuildOptions, write_atomic
from cgraph.backend.probe import compiler_identity, host_cpu

__all__ = ["CGRAPH_BACKEND_VERSION", "EXT_SUFFIX", "KEY_PREFIX", "file_digest", "identity",
           "index_name", "module_key", "source_files", "tree_digest"]

#: The version of the code that builds modules: cgraph's own.
CGRAPH_BACKEND_VERSION = __version__
EXT_SUFFIX: str = sysconfig.get_config_var("EXT_SUFFIX")
#: The part of every key that is fixed for the process.
KEY_PREFIX = "\0".join([f"cgraph {__version__}", MODULE_FORMAT, EXT_SUFFIX,
                        " ".join(BASE_FLAGS)])

_file_digests: dict[str, tuple[tuple[int, int], str]] = {}


def identity(options: BuildOptions, root: Path) -> list[str]:
    """What decides a module's machine code besides its source (see the module's doc);
    the compiler's ``--version`` is kept under ``root/compilers``."""
    return [
        KEY_PREFIX,
        host_cpu() if any("native" in flag for flag in options.cflags) else "",
        compiler_identity(options.cc, root / "compilers"),
        repr(options),  # every field
    ]


def module_key(source: str, cdef: str, options: BuildOptions, depends: tuple[str, ...],
               root: Path) -> str:
    """The cache key of the module compiled from `source` with `options`, exposing
    `cdef`, whose source includes the header files `depends`."""
    # One join and one hash, since this runs on every call, memo hits included.
    # The lengths make the joined text unambiguous.
    parts = [
        *identity(options, root),
        str(len(source)),
        source,
        str(len(cdef)),
        cdef,
        *(file_digest(os.fspath(path)) for path in depends),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def index_name(index_key: str, options: BuildOptions, root: Path) -> str:
    """The name under which the program index records `index_key` built with `options`:
    keyed on the same identity as the modules themselves."""
    text = "\0".join([*identity(options, root), str(len(index_key)), index_key])
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: str) -> str:
    """sha256 of the file's contents, read again only when its mtime or size changed."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _file_digests.get(path)
    if cached is None or cached[0] != stamp:
        cached = _file_digests[path] = (stamp, hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return cached[1]


def source_files(top: str | Path, suffix: str) -> list[str]:
    """The paths (strings, sorted) of the files under `top`, at any depth, whose names
    end with `suffix`: what a sources digest lists, without a Path object per file."""
    found, folders = [], [os.fspath(top)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.name.endswith(suffix):
                    found.append(entry.path)
    return sorted(found)


def tree_digest(label: str, named: list[tuple[str, str | Path]], seed: str,
                root: Path | None) -> str:
    """sha256 of `seed` and each file's name, length and bytes: what the package's
    sources digests are made of.

    Remembered in `root/digests/<label>-<where>` under the files' stat signature (name,
    size, mtime: what `file_digest` and Python's own .pyc check trust), so a new process
    whose sources did not change reads one small file instead of hashing them all
    (about 20 ms of a warm start). `<where>` is named by the files' paths: installs and
    checkouts sharing a cache keep a memo each rather than replacing one another's. A
    memo that cannot be read or written is ignored.
    """
    stamp = hashlib.sha256(seed.encode())
    where = hashlib.sha256()
    for name, path in named:
        st = os.stat(path)
        stamp.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        where.update(f"{os.fspath(path)}\0".encode())
    signature = stamp.hexdigest()
    memo = root / "digests" / f"{label}-{where.hexdigest()[:16]}" if root is not None else None
    if memo is not None:
        try:
            found = memo.read_text(encoding="ascii").split()
            if len(found) == 2 and found[0] == signature and len(found[1]) == 64:
                return found[1]
        except (OSError, UnicodeDecodeError):
            pass
    h = hashlib.sha256(seed.encode())
    for name, path in named:
        with open(path, "rb") as f:
            data = f.read()
        h.update(b"%d\0%s\0%d\0" % (len(name), name.encode(), len(data)) + data)
    digest = h.hexdigest()
    if memo is not None:
        try:
            memo.parent.mkdir(mode=0o700, exist_ok=True)
            write_atomic(memo, f"{signature} {digest}\n")
        except OSError:
            pass
    return digest
