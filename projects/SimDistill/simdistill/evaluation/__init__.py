"""Evaluation of SimDistill: the nuScenes metric with results-file errors that say where."""
from .nuscenes_metric import CheckedNuScenesMetric, results_file_problem

__all__ = ['CheckedNuScenesMetric', 'results_file_problem']
