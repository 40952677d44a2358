"""Evaluation of SimDistill: the nuScenes metric with results-file errors that say where, the
depth accuracy of a camera model against the LiDAR, and bootstrap intervals over test scenes."""
from .bootstrap import (ReplicateStore, SceneBootstrap, bootstrap_replicates,
                        percentile_interval, seed_and_scene_replicates)
from .depth_metric import DepthHits, depth_hits, evaluate_depth
from .nuscenes_metric import CheckedNuScenesMetric, results_file_problem

__all__ = [
    'CheckedNuScenesMetric', 'DepthHits', 'ReplicateStore', 'SceneBootstrap',
    'bootstrap_replicates',
    'depth_hits', 'evaluate_depth', 'percentile_interval', 'results_file_problem',
    'seed_and_scene_replicates'
]
