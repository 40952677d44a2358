"""The depth metric's test pipeline (tools/benchmarks/depth_accuracy.py): the camera model's
test pipeline plus the LiDAR points, loaded the same way in every run."""
import copy
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS
from simdistill.testing import BASELINE, ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import depth_accuracy  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_points_are_the_key_frame_and_its_nearest_sweeps_in_every_run(nuscenes_infos):
    """With fewer sweeps loaded than stored (1 of the fixture's 2), the training loader draws
    one at random; the metric's pipeline takes the nearest one whatever the random state."""
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(osp.join(ROOT, BASELINE))
    for step in cfg.load_points:
        if step['type'].endswith('MultiSweeps'):
            step['sweeps_num'] = 1
    dataset_cfg = depth_accuracy.with_points(cfg)
    dataset_cfg.update(data_root=nuscenes_infos['root'], ann_file=nuscenes_infos['val'])
    assert 'points' in dataset_cfg.pipeline[-1]['keys']
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    index = 1  # a scene's second key frame: its sweeps lie between it and the first
    assert len(dataset.get_data_info(index)['lidar_sweeps']) == 2

    def points(seed):
        np.random.seed(seed)
        return dataset[index]['inputs']['points']

    first = points(0)
    assert all(torch.equal(first, points(seed)) for seed in range(1, 8))
    # the one sweep loaded is the nearest in time: its points carry the smallest time lag
    lags = first[:, 4].unique()
    nearest = min(abs(s['timestamp'] - dataset.get_data_info(index)['timestamp'])
                  for s in dataset.get_data_info(index)['lidar_sweeps'])
    assert len(lags) == 2 and lags.max().item() == pytest.approx(nearest, abs=1e-3)
