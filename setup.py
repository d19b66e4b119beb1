"""Packaging glue that pyproject.toml cannot express: the top-level ``resources/`` folder
(icons, style sheet, update catalog) ships inside the package as ``hvconsole.resources``."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["hvconsole", "hvconsole.*"])
    + ["hvconsole.resources"] + [f"hvconsole.resources.{p}" for p in find_namespace_packages(where="resources")],
    package_dir={"hvconsole.resources": "resources"},
    package_data={"hvconsole.remote.scripts": ["*.ps1"], "hvconsole.resources": ["**/*"]},
)
