"""Synthetic data -> mmdet3d's converter -> NuScenesDataset -> NuScenesMetric (the real devkit).

Everything here is mmdet3d's and the devkit's own code; the synthetic data only feeds it.
"""
import copy
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS, METRICS
from mmdet3d.structures import Det3DDataSample
from simdistill.testing import ROOT

pytestmark = pytest.mark.slow
CONFIG = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmdet3d')
    return Config.fromfile(osp.join(ROOT, CONFIG))


def build_dataset(cfg, infos, split='val', pipeline=None, ann_file=None):
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    dataset_cfg = copy.deepcopy(loader.dataset)
    dataset_cfg.update(data_root=infos['root'], ann_file=ann_file or infos[split])
    if pipeline is not None:
        dataset_cfg.pipeline = pipeline
    return DATASETS.build(dataset_cfg)


def test_converter_writes_train_and_val_infos(nuscenes_infos):
    with open(nuscenes_infos['train'], 'rb') as f:
        train = pickle.load(f)
    with open(nuscenes_infos['val'], 'rb') as f:
        val = pickle.load(f)
    # 8 mini_train and 2 mini_val scenes of 4 key frames each (the fixture's settings).
    assert len(train['data_list']) == 32 and len(val['data_list']) == 8
    info = val['data_list'][1]  # a scene's first key frame has no sweeps before it
    assert set(info['images']) == {
        'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT',
        'CAM_BACK_RIGHT'
    }
    assert len(info['lidar_sweeps']) == 2
    assert train['metainfo']['version'] == 'v1.0-mini'


def test_dataset_yields_six_images_and_points(cfg, nuscenes_infos):
    dataset = build_dataset(cfg, nuscenes_infos, 'train')
    sample = dataset[0]
    imgs, points = sample['inputs']['img'], sample['inputs']['points']
    assert tuple(imgs.shape) == (6, 3, 128, 320)
    assert points.shape[1] == 5 and len(points) > 1000
    meta = sample['data_samples'].metainfo
    assert np.asarray(meta['img_aug_matrix']).shape == (6, 4, 4)
    assert np.asarray(meta['lidar_aug_matrix']).shape == (4, 4)
    assert len(sample['data_samples'].gt_instances_3d.bboxes_3d) > 0


def ground_truth_as_predictions(dataset, shift=0.0):
    """Per val sample, the annotated boxes as a prediction (the dataset keeps those with LiDAR
    points, as the devkit's evaluation does)."""
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ann = dataset.parse_ann_info(info)
        boxes = ann['gt_bboxes_3d']
        if shift:
            boxes.translate(torch.tensor([shift, 0.0, 0.0]))
        pred = InstanceData(
            bboxes_3d=boxes,
            scores_3d=torch.ones(len(boxes)),
            labels_3d=torch.as_tensor(ann['gt_labels_3d']))
        sample = Det3DDataSample(metainfo=dict(sample_idx=info['sample_idx']))
        sample.pred_instances_3d = pred
        sample.pred_instances = InstanceData()  # no 2D boxes; the metric expects the field
        samples.append(sample.to_dict())
    return samples


def evaluate(cfg, nuscenes_infos, dataset, predictions, tmp_path):
    metric_cfg = copy.deepcopy(cfg.val_evaluator)
    metric_cfg.update(
        data_root=nuscenes_infos['root'], ann_file=nuscenes_infos['val'],
        jsonfile_prefix=str(tmp_path / 'results'))
    metric = METRICS.build(metric_cfg)
    metric.dataset_meta = dataset.metainfo
    metric.process({}, predictions)
    metrics = metric.compute_metrics(metric.results)
    return {key.split('/')[-1]: value for key, value in metrics.items()}


@pytest.fixture(scope='module')
def val_dataset(cfg, nuscenes_infos):
    return build_dataset(cfg, nuscenes_infos, 'val')


def test_ground_truth_scores_perfectly_through_the_devkit(cfg, nuscenes_infos, val_dataset,
                                                          tmp_path):
    metrics = evaluate(cfg, nuscenes_infos, val_dataset,
                       ground_truth_as_predictions(val_dataset), tmp_path)
    assert metrics['mAP'] > 0.99
    assert metrics['mATE'] < 0.01
    assert metrics['mASE'] < 0.01
    assert metrics['mAOE'] < 0.01
    assert metrics['mAVE'] < 0.01
    # The metric guesses attributes from class and speed, so NDS misses only the mAAE share.
    assert metrics['NDS'] > 0.9


def test_shifted_ground_truth_scores_far_lower(cfg, nuscenes_infos, val_dataset, tmp_path):
    metrics = evaluate(cfg, nuscenes_infos, val_dataset,
                       ground_truth_as_predictions(val_dataset, shift=3.0), tmp_path)
    # 3 m off matches only at the 4 m distance threshold: AP about 1/4.
    assert metrics['mAP'] < 0.3
    assert metrics['NDS'] < 0.6


@pytest.mark.parametrize('missing', ['lidar', 'image'])
def test_missing_sensor_file_is_named(cfg, nuscenes_infos, tmp_path, missing):
    with open(nuscenes_infos['val'], 'rb') as f:
        infos = pickle.load(f)
    info = infos['data_list'][0]
    if missing == 'lidar':
        info['lidar_points']['lidar_path'] = 'missing_sweep.pcd.bin'
        name = 'missing_sweep.pcd.bin'
    else:
        info['images']['CAM_BACK']['img_path'] = 'missing_view.jpg'
        name = 'missing_view.jpg'
    ann_file = str(tmp_path / 'broken_infos.pkl')
    with open(ann_file, 'wb') as f:
        pickle.dump(infos, f)
    dataset = build_dataset(cfg, nuscenes_infos, 'val', ann_file=ann_file)
    with pytest.raises(FileNotFoundError, match=name):
        dataset[0]
