"""Datasets of SimDistill: the checked nuScenes dataset, the synthetic nuScenes generator and
the pipeline transforms."""
from . import transforms  # noqa: F401  (registers the transforms)
from .nuscenes_dataset import CheckedNuScenesDataset
from .synthetic_nuscenes import (GenerationSummary, SyntheticNuScenesConfig,
                                 generate_synthetic_nuscenes)

__all__ = [
    'CheckedNuScenesDataset', 'GenerationSummary', 'SyntheticNuScenesConfig',
    'generate_synthetic_nuscenes'
]
