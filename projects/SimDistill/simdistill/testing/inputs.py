"""Loader inputs as the nuScenes pipeline sees them: point files through the configs' point
loaders, camera images with their calibration, info-file samples and the dataset built on them.
``CAMERAS`` and the dataset settings come from the configs' ``nus-common.py``."""
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config

from simdistill.datasets import CheckedNuScenesDataset
from simdistill.datasets.transforms import (CheckedLoadPointsFromFile,
                                            CheckedLoadPointsFromMultiSweeps,
                                            LoadMultiViewImagesWithCalib)
from .paths import ROOT

COMMON = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/nus-common.py'))
CAMERAS = [k for k in COMMON.data_prefix if k.startswith('CAM')]
LOAD_DIM = 5


def load_points(path):
    """The key-frame loader of the configs, as the pipeline calls it."""
    loader = CheckedLoadPointsFromFile(coord_type='LIDAR', load_dim=LOAD_DIM, use_dim=LOAD_DIM)
    return loader(dict(lidar_points=dict(lidar_path=str(path))))['points'].tensor.numpy()


def load_sweep(key_path, sweep_path):
    """The sweep loader of the configs on one key frame and one sweep."""
    loader = CheckedLoadPointsFromMultiSweeps(sweeps_num=1, load_dim=LOAD_DIM,
                                              use_dim=list(range(LOAD_DIM)), test_mode=True)
    from mmdet3d.structures import LiDARPoints
    points = LiDARPoints(np.fromfile(key_path, np.float32).reshape(-1, LOAD_DIM), LOAD_DIM)
    sweep = dict(lidar_points=dict(lidar_path=str(sweep_path), lidar2sensor=np.eye(4).tolist()),
                 timestamp=0.0)
    return loader(dict(points=points, timestamp=0.0, lidar_sweeps=[sweep]))['points']


def camera_results(folder, cameras=CAMERAS, size=(24, 40)):
    """Results as Det3DDataset hands them to the image loader, small JPEGs on disk."""
    rng = np.random.RandomState(0)
    images = {}
    for cam in cameras:
        path = osp.join(str(folder), f'{cam}.jpg')
        cv2.imwrite(path, rng.randint(0, 255, (*size, 3), dtype=np.uint8))
        images[cam] = dict(img_path=path, cam2img=np.eye(3).tolist(),
                           lidar2cam=np.eye(4).tolist())
    return dict(images=images, token='sample-token-7', sample_idx=7)


def load_images(results):
    return LoadMultiViewImagesWithCalib(num_views=len(CAMERAS), to_float32=True)(results)


def info_sample(index, cameras=CAMERAS):
    """One sample of an mmdet3d 1.x nuScenes info file (the keys the dataset reads)."""
    return dict(
        sample_idx=index, token=f'token-{index}', timestamp=0.0, ego2global=np.eye(4).tolist(),
        images={c: dict(img_path=f'{c}_{index}.jpg', cam2img=np.eye(3).tolist(),
                        lidar2cam=np.eye(4).tolist()) for c in cameras},
        lidar_points=dict(num_pts_feats=LOAD_DIM, lidar_path=f'{index}.pcd.bin'), instances=[])


def nuscenes_metainfo():
    return dict(categories={c: i for i, c in enumerate(COMMON.class_names)}, dataset='nuscenes',
                version='v1.0-mini', info_version='1.1')


def build_dataset(data_root, ann_file='infos.pkl'):
    return CheckedNuScenesDataset(
        data_root=str(data_root), ann_file=ann_file, data_prefix=COMMON.data_prefix,
        metainfo=dict(classes=COMMON.class_names, version='v1.0-mini'),
        modality=dict(use_lidar=True, use_camera=True), test_mode=True, pipeline=[])
