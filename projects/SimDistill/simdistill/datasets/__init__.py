"""Datasets of SimDistill: the synthetic nuScenes generator and the pipeline transforms."""
from . import transforms  # noqa: F401  (registers the transforms)
from .synthetic_nuscenes import (GenerationSummary, SyntheticNuScenesConfig,
                                 generate_synthetic_nuscenes)

__all__ = ['GenerationSummary', 'SyntheticNuScenesConfig', 'generate_synthetic_nuscenes']
