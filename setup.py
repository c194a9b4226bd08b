"""Packaging: ship templates/ and csrc/ inside the package as cgraph.templates and
cgraph.csrc, so that installed, wheel and editable installs all find them."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["cgraph", "cgraph.*"]) + ["cgraph.templates", "cgraph.csrc"],
    package_dir={"cgraph.templates": "templates", "cgraph.csrc": "csrc"},
    package_data={"cgraph.templates": ["*.j2"], "cgraph.csrc": ["*.h"]},
    include_package_data=False,
)
