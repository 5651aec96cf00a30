"""Finds the subpackages of each mapped folder (setuptools drops nested ones otherwise; docs/architecture.md, "Packaging")."""

from setuptools import find_packages, setup

MAPPED = {"genaisys": "genaisys", "genaisys.tools": "tools", "genaisys.graphs": "graphs", "genaisys.memory": "memory"}
packages = []
for name, folder in MAPPED.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]
setup(packages=sorted(set(packages)))
