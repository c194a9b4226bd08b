"""Compile at install time what a machine otherwise compiles at its first compile: the C
call path's module (`fastcall`), the runtime's parts (`toolchain.runtime`) for the
default options, with and without BLAS, and the templates' Jinja bytecode, into a
folder that `backend.prebuilt` reads.

Run: ``python -m cgraph.compile.prebuild FOLDER``; setup.py's build step runs it for
the package's ``cgraph/_prebuilt``. Each file is compiled by the same commands as a
first compile would run, so that it is the file that compile would have made. A file
that fails to compile is left out (its first use compiles it into the cache, as
without this step); the exit status is 0 unless nothing could be built.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2

from cgraph import backend
from cgraph.backend.build import BASE_FLAGS, object_command
from cgraph.backend.prebuilt import MANIFEST, prebuilt_key, write_manifest
from cgraph.codegen.render import environment
from cgraph.compile import fastcall
from cgraph.compile.toolchain import build_options, call_path_options, template_key
from cgraph.configdefaults import Config, config

__all__ = ["build", "main"]


def build(where: Path, cfg: Config = config) -> dict[str, tuple[str, str]]:
    """Compile the install-time files for the compiler and options of `cfg` into
    `where` and write its manifest; return what it lists (key -> (file, what)). The
    files of an earlier build there (an editable install's) are removed first."""
    where.mkdir(parents=True, exist_ok=True)
    for old in where.iterdir():
        if old.name == MANIFEST or old.suffix in (".so", ".o", ".jinja"):
            old.unlink()
    with tempfile.TemporaryDirectory(prefix="cgraph-prebuild-") as tmp:
        jobs = [(_call_path, (Path(tmp), where, cfg.cc))]
        base = build_options(cfg)
        variants = [base, backend.with_blas(base)]
        for options in dict.fromkeys(variants):  # the same twice without a BLAS library
            for part in options.runtime.parts:
                jobs.append((_runtime_part, (Path(tmp), where, options, part)))
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(job, *args) for job, args in jobs]
            files = dict(found for future in done if (found := _result(future)) is not None)
    files.update(_templates(where))
    write_manifest(where, files)
    return files


def _templates(where: Path) -> dict[str, tuple[str, str]]:
    """Each template's bytecode, as the Jinja environment compiles it at first use and
    writes it into the cache's ``jinja`` folder (`render.keep_bytecode_in`)."""
    env = environment()
    checksums = jinja2.FileSystemBytecodeCache(str(where))
    files = {}
    for name in env.list_templates(extensions=["j2"]):
        source, filename, _ = env.loader.get_source(env, name)
        bucket = jinja2.bccache.Bucket(env, name, checksums.get_source_checksum(source))
        bucket.code = env.compile(source, name, filename)
        key = template_key(name)
        file = f"template-{key[:16]}.jinja"
        with open(where / file, "wb") as f:
            bucket.write_bytecode(f)
        files[key] = (file, f"the template {name}")
    return files


def _result(future) -> tuple[str, tuple[str, str]] | None:
    try:
        return future.result()
    except (backend.CompileError, subprocess.SubprocessError, OSError) as err:
        first = str(err).strip().splitlines()[:1]
        print(f"cgraph prebuild: left out ({type(err).__name__}: {' '.join(first)})",
              file=sys.stderr)
        return None


def _call_path(tmp: Path, where: Path, cc: str) -> tuple[str, tuple[str, str]]:
    """The C call path's module, as `fastcall` builds it without sanitizers."""
    options = call_path_options(cc, sanitize=False)
    key = fastcall.installed_key(options)
    modname = f"_cg_fastcall_{key[:16]}"
    folder = tmp / "fastcall"
    folder.mkdir()
    built = fastcall.build_installed(options, modname, folder)
    name = built.name
    shutil.copyfile(built, where / name)
    return key, (name, "the C call path (cgraph.compile.fastcall)")


def _runtime_part(tmp: Path, where: Path, options: backend.BuildOptions,
                  part: str) -> tuple[str, tuple[str, str]]:
    """A part of the runtime, compiled as `build.build_module` compiles a missing one."""
    flags = " ".join(BASE_FLAGS)
    key = prebuilt_key(options, options.cc, flags, "runtime part", part)
    folder = tmp / key[:16]
    folder.mkdir()
    (folder / f"{part}.c").write_text(options.runtime.source(part), encoding="utf-8")
    subprocess.run(object_command(options, f"{part}.c", f"{part}.o"), cwd=folder, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    name = f"{part}-{key[:16]}.o"
    shutil.copyfile(folder / f"{part}.o", where / name)
    blas = "-DCG_BLAS=1" in options.cflags
    return key, (name, f"runtime part {part} ({'with' if blas else 'without'} BLAS)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the files and manifest")
    args = parser.parse_args(argv)
    files = build(args.folder)
    print(f"cgraph prebuild: {len(files)} files in {args.folder}")
    return 0 if files else 1


if __name__ == "__main__":
    sys.exit(main())
