"""Packaging: ship templates/ and csrc/ inside the package as cgraph.templates and
cgraph.csrc, so that installed, wheel and editable installs all find them; and compile
at install time what a machine otherwise compiles at its first compile
(cgraph/compile/prebuild.py), into cgraph/_prebuilt. That step is an optimization: when
it fails (no compiler, say) the install goes on without it, with a warning."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Command, Distribution, find_packages, setup
from setuptools.command.build import build

HERE = Path(__file__).resolve().parent


class BuildPrebuilt(Command):
    """Run `python -m cgraph.compile.prebuild` on the package being built: in the build
    folder, or in the source tree for an editable install (`editable_mode`)."""

    description = "compile cgraph's call path and runtime parts for this machine"
    user_options: list = []

    def initialize_options(self):
        self.build_lib = None
        self.editable_mode = False
        self.outputs = []

    def finalize_options(self):
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def run(self):
        top = HERE if self.editable_mode else Path(self.build_lib).resolve()
        target = top / "cgraph" / "_prebuilt"
        with tempfile.TemporaryDirectory(prefix="cgraph-install-") as cache:
            env = dict(os.environ, CGRAPH_CACHE_DIR=cache, PYTHONDONTWRITEBYTECODE="1")
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "cgraph.compile.prebuild", str(target)],
                    cwd=top, env=env, capture_output=True, text=True, timeout=900)
                said = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
                failed = said if done.returncode != 0 else ""
            except (OSError, subprocess.SubprocessError) as err:
                failed = f"{type(err).__name__}: {err}"
        if failed:
            last = failed.splitlines()[-1]
            print(f"warning: cgraph's install-time build was skipped ({last}); the first "
                  "compile on this machine will build its parts", file=sys.stderr)
        else:  # the parts it could not compile, each compiled at its first use instead
            for line in done.stderr.splitlines():
                print(f"warning: {line}", file=sys.stderr)
        self.outputs = sorted(str(p) for p in target.glob("*")) if target.is_dir() else []

    def get_outputs(self):
        return self.outputs

    def get_output_mapping(self):
        return {}


class Build(build):
    sub_commands = [*build.sub_commands, ("build_cgraph", None)]


class BinaryDistribution(Distribution):
    """The wheel holds compiled files: it is built for one platform and Python."""

    def has_ext_modules(self):
        return True


setup(
    packages=find_packages(include=["cgraph", "cgraph.*"]) + ["cgraph.templates", "cgraph.csrc"],
    package_dir={"cgraph.templates": "templates", "cgraph.csrc": "csrc"},
    package_data={"cgraph.templates": ["*.j2"], "cgraph.csrc": ["*.h"]},
    include_package_data=False,
    cmdclass={"build": Build, "build_cgraph": BuildPrebuilt},
    distclass=BinaryDistribution,
)
