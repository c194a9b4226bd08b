"""backend.prebuilt: the files compiled at install time are found by a key that names no
folder, and only when their bytes are those the manifest lists."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cgraph.backend import default_options, prebuilt


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """An install-time folder with one file, and the lookup pointed at it."""
    folder = tmp_path / "prebuilt"
    folder.mkdir()
    (folder / "part.o").write_bytes(b"object code")
    key = prebuilt.prebuilt_key(default_options(), "gcc", "runtime part", "cg_rt_x")
    prebuilt.write_manifest(folder, {key: ("part.o", "a part")})
    monkeypatch.setenv("CGRAPH_PREBUILT", str(folder))
    monkeypatch.setattr(prebuilt, "_manifests", {})
    monkeypatch.setattr(prebuilt, "_verified", {})
    return folder, key


def test_found_by_its_key_only(installed):
    folder, key = installed
    assert prebuilt.lookup(key) == folder / "part.o"
    other = prebuilt.prebuilt_key(default_options(), "gcc", "runtime part", "cg_rt_y")
    assert other != key and prebuilt.lookup(other) is None


def test_the_key_names_no_folder_but_every_option():
    options = default_options()
    moved = dataclasses.replace(options, include_dirs=("/elsewhere/csrc",),
                                cflags=(*options.cflags, "-I/elsewhere/blas"))
    here = dataclasses.replace(options, include_dirs=("/here/csrc",),
                               cflags=(*options.cflags, "-I/here/blas"))
    assert prebuilt.prebuilt_key(moved, "gcc") == prebuilt.prebuilt_key(here, "gcc")
    assert prebuilt.prebuilt_key(options, "gcc") != prebuilt.prebuilt_key(here, "gcc")
    slower = dataclasses.replace(options, cflags=("-O1",))
    assert prebuilt.prebuilt_key(slower, "gcc") != prebuilt.prebuilt_key(options, "gcc")
    assert prebuilt.prebuilt_key(options, "gcc") != prebuilt.prebuilt_key(
        options, "no-such-compiler-here")


def test_a_damaged_file_or_manifest_finds_nothing(installed, monkeypatch):
    folder, key = installed
    (folder / "part.o").write_bytes(b"object cod3")  # same size, other bytes
    assert prebuilt.lookup(key) is None
    (folder / "part.o").unlink()
    assert prebuilt.lookup(key) is None
    for text in ("{", json.dumps({"entries": [1, 2]}), json.dumps({"entries": {key: 3}})):
        (folder / prebuilt.MANIFEST).write_text(text)
        monkeypatch.setattr(prebuilt, "_manifests", {})
        assert prebuilt.lookup(key) is None


def test_off_and_missing_folders(installed, monkeypatch, tmp_path):
    _, key = installed
    for off in ("off", "0", ""):
        monkeypatch.setenv("CGRAPH_PREBUILT", off)
        assert prebuilt.folder() is None and prebuilt.lookup(key) is None
    monkeypatch.setenv("CGRAPH_PREBUILT", str(tmp_path / "nowhere"))
    assert prebuilt.lookup(key) is None
    monkeypatch.delenv("CGRAPH_PREBUILT")
    assert prebuilt.folder().name == "_prebuilt"
