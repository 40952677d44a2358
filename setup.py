"""Installs the SimDistill plugin package ``simdistill`` (editable: ``pip install -e .``).

The package lives in ``projects/SimDistill/simdistill`` as mmdet3d's own ``projects/`` do; it is
installed under its own name so ``custom_imports=dict(imports=['simdistill'])`` works from any
folder, and no top-level ``projects`` package is installed (another one, e.g. pytorch3d's, would
shadow it; mmdet3d issue #2832).
"""
from setuptools import find_packages, setup

setup(
    name='simdistill',
    version='0.1.0',
    description='SimDistill: simulated multi-modal distillation for BEV 3D detection '
    '(MMDetection3D 1.x plugin)',
    python_requires='>=3.9',
    package_dir={'': 'projects/SimDistill'},
    packages=find_packages(where='projects/SimDistill'),
    package_data={'simdistill': ['ops/*/src/*.cpp', 'ops/*/src/*.cu', 'ops/*/src/*.h']},
    zip_safe=False,
)
