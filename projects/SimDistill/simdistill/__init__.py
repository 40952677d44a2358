"""SimDistill: simulated multi-modal distillation for BEV 3D object detection.

Importing this package registers its modules in the mmdet3d registries and changes nothing
else in the process: the torch 2.13 shims for the 2024 OpenMMLab stack are applied only by
``simdistill.compat.apply_all()`` (or a config's ``custom_imports`` naming
``simdistill.compat.enable``). It never compiles or loads a compiled op: the BEV pool kernels
are built lazily on first use.
"""
from . import compat  # noqa: F401  (defines the shims; applies none of them)
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registers)

__version__ = '0.1.0'
