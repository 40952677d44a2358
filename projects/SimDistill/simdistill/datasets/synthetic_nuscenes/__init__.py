"""Synthetic nuScenes: a faithful v1.0-mini release (the 13 tables, LiDAR sweeps, six cameras)
simulated from a seed, so the nuScenes pipeline runs without the real data.

Example::

    from simdistill.datasets import SyntheticNuScenesConfig, generate_synthetic_nuscenes
    generate_synthetic_nuscenes('data/nuscenes', SyntheticNuScenesConfig(seed=0))
"""
from .catalog import SCENES, VERSION
from .config import SyntheticNuScenesConfig
from .rig import CAMERA_CHANNELS, LIDAR_CHANNEL
from .scene import SceneWorld, simulate_scene
from .taxonomy import CLASS_NAMES, OBJECT_CLASSES
from .writer import GenerationSummary, generate_synthetic_nuscenes

__all__ = [
    'SyntheticNuScenesConfig', 'generate_synthetic_nuscenes', 'GenerationSummary',
    'simulate_scene', 'SceneWorld', 'SCENES', 'VERSION', 'CAMERA_CHANNELS', 'LIDAR_CHANNEL',
    'CLASS_NAMES', 'OBJECT_CLASSES'
]
