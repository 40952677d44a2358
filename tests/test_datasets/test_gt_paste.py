"""GT-paste of the paper's LiDAR-only stage (``ObjectSample`` with the project's numpy-safe
database sampler): the pasted objects are the database's own points, moved to their boxes."""
import copy
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config

from simdistill.testing import ROOT

LIDAR_ONLY = osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar_voxel0075_8xb4-cyclic-20e_nus-3d.py')


@pytest.fixture(scope='module')
def gt_paste(nuscenes_infos):
    import simdistill  # noqa: F401  (registers the sampler)
    from mmdet3d.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    cfg = copy.deepcopy(Config.fromfile(LIDAR_ONLY).gt_paste)
    root = nuscenes_infos['root']
    cfg.db_sampler.data_root = root
    cfg.db_sampler.info_path = root + 'nuscenes_dbinfos_train.pkl'
    cfg.db_sampler.prepare.filter_by_min_points = {k: 1 for k in cfg.db_sampler.classes}
    return TRANSFORMS.build(cfg), root


def test_lidar_only_config_pastes_objects_until_epoch_15():
    cfg = Config.fromfile(LIDAR_ONLY)
    types = [t['type'] for t in cfg.train_dataloader.dataset.dataset.pipeline]
    assert types.index('ObjectSample') == types.index('LoadAnnotations3D') + 1
    assert cfg.default_hooks.gt_paste_stop == dict(type='DisableObjectSampleHook',
                                                   disable_after_epoch=15)
    # the runtime's own hooks are kept
    assert {'FlushDenormalHook', 'SeedEachEpochHook'} <= {h['type'] for h in cfg.custom_hooks}


def test_pasted_objects_are_the_database_points_at_their_boxes(gt_paste):
    from mmdet3d.structures import LiDARInstance3DBoxes, LiDARPoints
    transform, root = gt_paste
    np.random.seed(0)
    # An empty scan with one existing box, so every pasted object must avoid it.
    existing = np.array([[0.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0, 0.0, 0.0]], dtype=np.float32)
    results = dict(
        points=LiDARPoints(torch.zeros((0, 5)), points_dim=5),
        gt_bboxes_3d=LiDARInstance3DBoxes(existing, box_dim=9),
        gt_labels_3d=np.array([0], dtype=np.int64))
    out = transform(results)
    boxes, labels = out['gt_bboxes_3d'], out['gt_labels_3d']
    pasted = len(boxes) - 1
    assert pasted > 0 and 'long' not in vars(np)
    assert torch.equal(boxes.tensor[0], torch.from_numpy(existing[0]))
    assert boxes[1:].bev.shape[0] == pasted
    overlaps = LiDARInstance3DBoxes.overlaps(boxes[:1], boxes[1:], mode='iou')
    assert float(overlaps.max()) == 0.0, 'a pasted object collides with a real one'
    # Recompute the pasted points from the database files (its .bin holds points relative to
    # the box centre) and compare with what the transform produced.
    with open(root + 'nuscenes_dbinfos_train.pkl', 'rb') as f:
        db = pickle.load(f)
    by_box = {tuple(np.round(info['box3d_lidar'][:3], 5)): info
              for infos in db.values() for info in infos}
    expected = []
    for box in boxes.tensor[1:].numpy():
        info = by_box[tuple(np.round(box[:3], 5))]
        assert transform.db_sampler.cat2label[info['name']] == labels[len(expected) + 1]
        pts = np.fromfile(osp.join(root, info['path']), dtype=np.float32).reshape(-1, 5)
        pts[:, :3] += info['box3d_lidar'][:3]
        expected.append(pts)
    expected = np.concatenate(expected)
    got = out['points'].tensor.numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(expected, axis=0), atol=1e-5)
