"""Reads the nuScenes metrics a runner logged (mmengine's JSON scalar logs) from a work dir."""
import glob
import json
import os.path as osp
from typing import Dict

METRIC_PREFIX = 'NuScenes metric/pred_instances_3d_NuScenes/'


def read_nuscenes_metrics(work_dir: str) -> Dict[str, float]:
    """The newest NuScenesMetric result logged under ``work_dir``.

    mmengine writes one JSON object per line to ``<ts>/<ts>.json`` (test runs) or
    ``<ts>/vis_data/<ts>.json`` (training runs with validation); the metrics are the last line
    holding ``NuScenes metric/...`` keys.

    Returns:
        dict: metric name without its prefix (``mAP``, ``NDS``, ``car_AP_dist_0.5``, ...) ->
        value.

    Raises:
        FileNotFoundError: no log under ``work_dir`` holds nuScenes metrics.
    """
    logs = glob.glob(osp.join(work_dir, '*', '*.json')) + glob.glob(
        osp.join(work_dir, '*', 'vis_data', '*.json'))
    for path in sorted(logs, key=osp.getmtime, reverse=True):
        with open(path) as f:
            lines = [json.loads(line) for line in f if METRIC_PREFIX in line]
        if lines:
            return {key[len(METRIC_PREFIX):]: value for key, value in lines[-1].items()
                    if key.startswith(METRIC_PREFIX)}
    raise FileNotFoundError(f'no nuScenes metrics logged under {work_dir}')
