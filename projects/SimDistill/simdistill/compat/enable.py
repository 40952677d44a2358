"""Importing this module applies the torch 2.13 shims of :mod:`simdistill.compat` to the whole
process (:func:`simdistill.compat.apply_all`; idempotent).

It exists for configs, which can only import: ``configs/_base_/default_runtime.py`` names it,
``custom_imports = dict(imports=['simdistill', 'simdistill.compat.enable'],
allow_failed_imports=False)``, so mmengine applies the shims when it reads the config, before
the runner loads a checkpoint or initialises DDP. Code that is not a config calls
``simdistill.compat.apply_all()`` instead.
"""
from . import apply_all

apply_all()
