"""Files compiled when cgraph was installed: what a machine otherwise compiles once, at
its first compile (the C call path's module, the runtime's parts for the default
options), kept in the package's ``_prebuilt`` folder and used in place of a build.

Each file is listed in the folder's ``manifest.json`` under a key made of what decides
its machine code (`prebuilt_key`): cgraph's version, the Python ABI, the compiler
binary, the build options and what the caller adds (its source, its headers' digests).
Unlike a cache key, the key names no folder: the install compiled them in a build
environment whose numpy, BLAS and cgraph folders are not the ones used later, whose
headers the key covers by their versions and digests instead. Nor does it hold cffi's
version (the build environment's cffi is often newer than the one installed): modules
hold no cffi code (cffi opens them, `store.open_module`); one that does not open is not
used (`fastcall` then builds its own).

A file is used only when its key is the one asked for and its bytes match the
manifest's sha256; anything else (another compiler or options, edited headers, a
damaged or missing file, no folder at all) finds nothing, and the caller builds into
the cache as it would without an install-time build.

``$CGRAPH_PREBUILT`` points at another folder, or turns the lookup off (``off``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sysconfig
from pathlib import Path

from cgraph._version import __version__

__all__ = ["MANIFEST", "folder", "lookup", "prebuilt_key", "write_manifest"]

MANIFEST = "manifest.json"
_OFF = ("", "0", "off", "no", "false")

_manifests: dict[str, dict] = {}  # folder -> its manifest's entries ({} when unreadable)
_verified: dict[tuple[str, str], Path] = {}  # (folder, key) -> its file, checked once


def folder() -> Path | None:
    """The folder of install-time files: ``$CGRAPH_PREBUILT`` if set (None for
    ``off``), else the package's ``_prebuilt``."""
    configured = os.environ.get("CGRAPH_PREBUILT")
    if configured is None:
        return Path(__file__).resolve().parents[1] / "_prebuilt"
    if configured.strip().lower() in _OFF:
        return None
    return Path(configured).expanduser()


def prebuilt_key(options: object, cc: str, *what: str) -> str:
    """The key of a file compiled by `cc` with the BuildOptions `options` from `what`.

    Folders in the options (include and library folders, ``-I`` flags) enter as
    placeholders, so the key holds the same in the build environment and in the
    installed package: the headers found there are covered by the versions in the
    flags (numpy's, the BLAS library's) and by the digests the caller passes in `what`.
    """
    text = "\0".join([f"cgraph {__version__}", sysconfig.get_config_var("EXT_SUFFIX") or "",
                      _compiler_stamp(cc), repr(_without_folders(options)), *what])
    return hashlib.sha256(text.encode()).hexdigest()


def _without_folders(options: object) -> object:
    cflags = tuple("-I<dir>" if flag.startswith("-I") else flag for flag in options.cflags)
    return dataclasses.replace(options, cflags=cflags,
                               include_dirs=("<dir>",) * len(options.include_dirs),
                               library_dirs=("<dir>",) * len(options.library_dirs))


def _compiler_stamp(cc: str) -> str:
    """The compiler binary that `cc` runs: its real path, size and time (what the
    cache's runtime objects are named by too)."""
    found = shutil.which(cc)
    if found is None:
        return f"missing {cc}"
    path = os.path.realpath(found)
    st = os.stat(path)
    return f"{path} {st.st_size} {st.st_mtime_ns}"


def lookup(key: str) -> Path | None:
    """The install-time file of `key`, or None: none listed, or its bytes are not
    those the manifest lists (a damaged file is never used)."""
    where = folder()
    if where is None:
        return None
    found = _verified.get((str(where), key))
    if found is not None:
        return found
    entry = _manifest(where).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        path = where / os.path.basename(entry["file"])
        if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            return None
    except (OSError, KeyError, TypeError):
        return None
    _verified[str(where), key] = path
    return path


def _manifest(where: Path) -> dict:
    name = str(where)
    entries = _manifests.get(name)
    if entries is None:
        try:
            entries = json.loads((where / MANIFEST).read_text(encoding="utf-8"))["entries"]
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError, KeyError, TypeError):
            entries = {}
        _manifests[name] = entries
    return entries


def write_manifest(where: Path, files: dict[str, tuple[str, str]]) -> None:
    """Write the manifest of `where`: `files` maps each key to (the file's name in
    `where`, what it is)."""
    entries = {key: {"file": name, "what": what,
                     "sha256": hashlib.sha256((where / name).read_bytes()).hexdigest()}
               for key, (name, what) in files.items()}
    text = json.dumps({"cgraph": __version__, "entries": entries}, indent=1, sort_keys=True)
    (where / MANIFEST).write_text(text + "\n", encoding="utf-8")
