"""Paired seeds: the camera baseline's and the distiller's training pipelines draw the same
augmentations for the same samples, whatever other random numbers one of them consumes."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS, TRANSFORMS
from simdistill.datasets.transforms.random_streams import transform_stream_seed
from simdistill.testing import ROOT

BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'
AUG_KEYS = ('img_aug_matrix', 'lidar_aug_matrix')


@TRANSFORMS.register_module(force=True)
class DrawsRandomNumbers(BaseTransform):
    """Consumes one number of each global stream (as a sweep choice or a shuffle would)."""

    def transform(self, results):
        np.random.rand()
        torch.rand(1)
        return results


def train_dataset(config, infos, isolate=None, extra_draw=False):
    init_default_scope('mmdet3d')
    cfg = copy.deepcopy(Config.fromfile(osp.join(ROOT, config)).train_dataloader.dataset)
    cfg.update(data_root=infos['root'], ann_file=infos['train'])
    if isolate is not None:
        cfg.isolate_transform_randomness = isolate
    if extra_draw:  # before the image and BEV augmentations
        cfg.pipeline = [dict(type='DrawsRandomNumbers'), *cfg.pipeline]
    return DATASETS.build(cfg)


def augmentations(dataset, indices=(0, 5, 3, 9, 0)):
    """Per drawn sample the augmentation matrices, from one seeded stream; the same sample
    drawn twice gets new draws."""
    np.random.seed(123)
    torch.manual_seed(123)
    out = []
    for i in indices:
        meta = dataset[i]['data_samples'].metainfo
        out.append({k: np.asarray(meta[k]) for k in AUG_KEYS})
    return out


def same(a, b):
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in AUG_KEYS)


@pytest.mark.slow
def test_baseline_and_distiller_pipelines_draw_the_same_augmentations(nuscenes_infos):
    baseline = augmentations(train_dataset(BASELINE, nuscenes_infos))
    distiller = augmentations(train_dataset(DISTILLER, nuscenes_infos, extra_draw=True))
    assert same(baseline, distiller)
    # the draws are real augmentations: they change from draw to draw of one sample
    assert not np.array_equal(baseline[0]['img_aug_matrix'], baseline[4]['img_aug_matrix'])


@pytest.mark.slow
def test_without_isolation_an_extra_draw_shifts_every_augmentation(nuscenes_infos):
    """What the isolation prevents (and what makes the test above able to fail)."""
    baseline = augmentations(train_dataset(BASELINE, nuscenes_infos, isolate=False))
    distiller = augmentations(train_dataset(DISTILLER, nuscenes_infos, isolate=False,
                                            extra_draw=True))
    assert not same(baseline, distiller)


def test_isolation_leaves_the_global_streams_one_draw_further():
    """Whatever the pipeline draws, the global NumPy stream advances by one number per sample
    and torch's CPU stream not at all."""
    from simdistill.datasets.transforms.random_streams import IsolatedRandomCompose
    compose = IsolatedRandomCompose([DrawsRandomNumbers(), DrawsRandomNumbers()])
    np.random.seed(7)
    torch.manual_seed(7)
    compose({})
    after = np.random.rand(), torch.rand(1)
    np.random.seed(7)
    torch.manual_seed(7)
    np.random.randint(0, 2**31)
    assert after == (np.random.rand(), torch.rand(1))


def test_stream_seeds_differ_by_transform_and_occurrence():
    seeds = {transform_stream_seed(5, name, k) for name in ('A', 'B') for k in (0, 1)}
    assert len(seeds) == 4
    assert transform_stream_seed(5, 'A', 0) == transform_stream_seed(5, 'A', 0)
    assert transform_stream_seed(5, 'A', 0) != transform_stream_seed(6, 'A', 0)
