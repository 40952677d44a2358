"""Random model inputs at test size: nuScenes-like camera rigs, image and LiDAR augmentation
matrices, and whole batches (images, points, boxes) as a data loader hands them to a model."""
import math

import numpy as np
import torch
from mmengine.structures import InstanceData

from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes


def rot_z(yaw):
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def camera_rig(num_views, image_size, rng=None):
    """nuScenes-like cameras (float64): ``cam2img`` and ``lidar2cam`` ``(N, 4, 4)``.

    Camera frame: x right, y down, z forward; LiDAR frame: x forward, y left, z up.
    """
    H, W = image_size
    cam2img, lidar2cam = [], []
    for i in range(num_views):
        yaw = 2 * math.pi * i / num_views + (rng.uniform(-0.1, 0.1) if rng is not None else 0)
        # columns: camera axes (x right, y down, z forward) in LiDAR coordinates
        forward = rot_z(yaw) @ np.array([1.0, 0, 0])
        right = rot_z(yaw) @ np.array([0, -1.0, 0])
        down = np.array([0, 0, -1.0])
        cam2lidar = np.eye(4)
        cam2lidar[:3, :3] = np.stack([right, down, forward], axis=1)
        cam2lidar[:3, 3] = [0.5 * forward[0], 0.5 * forward[1], 0.3]
        lidar2cam.append(np.linalg.inv(cam2lidar))
        k = np.eye(4)
        k[0, 0] = k[1, 1] = 0.8 * W
        k[0, 2], k[1, 2] = W / 2, H / 2
        cam2img.append(k)
    return np.stack(cam2img), np.stack(lidar2cam)


def random_img_aug(rng, num_views):
    augs = []
    for _ in range(num_views):
        a = np.eye(4)
        angle = rng.uniform(-0.1, 0.1)
        scale = rng.uniform(0.8, 1.2)
        flip = -1.0 if rng.uniform() < 0.5 else 1.0
        a[:2, :2] = scale * np.array([[math.cos(angle), -math.sin(angle)],
                                      [math.sin(angle), math.cos(angle)]]) @ np.diag([flip, 1])
        a[:2, 3] = rng.uniform(-20, 20, size=2)
        augs.append(a)
    return np.stack(augs)


def random_lidar_aug(rng):
    a = np.eye(4)
    a[:3, :3] = rng.uniform(0.9, 1.1) * rot_z(rng.uniform(-0.5, 0.5)) @ np.diag(
        [1, -1 if rng.uniform() < 0.5 else 1, 1])
    a[:3, 3] = rng.normal(0, 0.5, size=3)
    return a


def random_batch(cfg, half, batch_size=2, num_views=6, with_points=True, seed=0):
    """Random images and points, nuScenes-like cameras, a few boxes per sample."""
    rng = np.random.default_rng(seed)
    m = cfg.model
    inputs, samples = dict(), []
    if m.get('view_transform'):
        H, W = m.view_transform.image_size
        inputs['img'] = [torch.randint(0, 255, (num_views, 3, H, W)).float()
                         for _ in range(batch_size)]
    if with_points:
        pts = []
        for _ in range(batch_size):
            xyz = rng.uniform([-half, -half, -2.0], [half, half, 1.0], size=(3000, 3))
            pts.append(torch.as_tensor(np.c_[xyz, rng.uniform(0, 1, (3000, 2))]).float())
        inputs['points'] = pts
    for _ in range(batch_size):
        meta = dict(box_type_3d=LiDARInstance3DBoxes, sample_idx=0)
        if 'img' in inputs:
            cam2img, lidar2cam = camera_rig(num_views, (H, W), rng)
            meta.update(cam2img=cam2img, lidar2cam=lidar2cam,
                        img_aug_matrix=random_img_aug(rng, num_views),
                        lidar_aug_matrix=random_lidar_aug(rng), img_shape=(H, W),
                        pad_shape=(H, W), ori_shape=(H, W))
        sample = Det3DDataSample(metainfo=meta)
        n = 4
        boxes = np.c_[rng.uniform(-0.6 * half, 0.6 * half, (n, 2)),
                      np.full(n, -1.5), rng.uniform(1, 4, (n, 3)),
                      rng.uniform(-3, 3, n), rng.uniform(-2, 2, (n, 2))]
        sample.gt_instances_3d = InstanceData(
            bboxes_3d=LiDARInstance3DBoxes(torch.as_tensor(boxes).float(), box_dim=9),
            labels_3d=torch.as_tensor(rng.integers(0, 10, n)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
