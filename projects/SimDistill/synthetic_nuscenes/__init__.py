"""Synthetic nuScenes: a faithful v1.0-mini release (the 13 tables, LiDAR sweeps, six cameras,
map masks) simulated from a seed, so the nuScenes pipeline runs without the real data; or a
larger v1.0-trainval release (``release``: scene names from the devkit's train and val lists,
the val scenes drawn from their own world seed).

Each scene is a street (``layout``: roads, lanes, crossings, sidewalks; ``background``:
kerbs, buildings, trees, poles, signs, bins, parked dumpsters) with the ten classes built from
parts (``shapes``) where they belong (``placement``); the LiDAR (``lidar``) and the cameras
(``camera``) ray-cast the same solids (``solids``) with per-material reflectivity and colour
(``materials``). Style settings (layout, clutter density, palette) are
:class:`SyntheticNuScenesConfig` fields; by default each scene draws its own (``style``), a
single value pins every scene.

Example::

    from synthetic_nuscenes import SyntheticNuScenesConfig, generate_synthetic_nuscenes
    generate_synthetic_nuscenes('data/nuscenes', SyntheticNuScenesConfig(seed=0))
"""
from .catalog import SCENES, VERSION, VERSIONS
from .config import SyntheticNuScenesConfig
from .release import ScenePlan, plan_release
from .rig import CAMERA_CHANNELS, LIDAR_CHANNEL
from .scene import SceneWorld, simulate_scene
from .taxonomy import CLASS_NAMES, OBJECT_CLASSES
from .writer import GenerationSummary, generate_synthetic_nuscenes

__all__ = [
    'SyntheticNuScenesConfig', 'generate_synthetic_nuscenes', 'GenerationSummary',
    'simulate_scene', 'SceneWorld', 'SCENES', 'VERSION', 'CAMERA_CHANNELS', 'LIDAR_CHANNEL',
    'CLASS_NAMES', 'OBJECT_CLASSES', 'VERSIONS', 'ScenePlan', 'plan_release'
]
