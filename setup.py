"""Package discovery only; everything else is in pyproject.toml.

setuptools' own ``packages.find`` cannot rename a folder, and the top-level ``kernels/`` folder installs
as ``rglt.kernels``, so its packages are found here and given that prefix. Nothing is listed by hand.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["rglt", "rglt.*"])
    + ["rglt." + name for name in find_packages(include=["kernels", "kernels.*"])],
    package_dir={"rglt.kernels": "kernels"},
)
