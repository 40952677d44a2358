"""Datasets of SimDistill: the checked nuScenes dataset and the pipeline transforms.

The synthetic nuScenes generator is its own package, ``synthetic_nuscenes`` (beside this one);
the model code never imports it."""
from . import transforms  # noqa: F401  (registers the transforms)
from .nuscenes_dataset import CheckedNuScenesDataset

__all__ = ['CheckedNuScenesDataset']
