"""Targets of the image-backbone pre-training, against hand-worked cases."""
import math

import numpy as np
import torch
from mmengine.structures import InstanceData

from mmdet3d.structures import LiDARInstance3DBoxes
from simdistill.models.image_pretrain import cell_targets, point_classes


def test_point_classes_inside_outside_and_rotated_boxes():
    boxes = torch.tensor([[0.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0],
                          [10.0, 0.0, -1.0, 4.0, 2.0, 1.5, math.pi / 2]])
    gt = InstanceData(bboxes_3d=LiDARInstance3DBoxes(boxes), labels_3d=torch.tensor([3, 8]))
    points = torch.tensor([
        [1.9, 0.9, 0.0],    # inside box 0 near a corner
        [2.05, 0.0, 0.0],   # 5 cm outside box 0's face: inside with the 0.1 m margin
        [2.3, 0.0, 0.0],    # outside
        [0.0, 0.0, 0.7],    # above box 0 (top at 0.5 m, 0.6 m with the margin)
        [10.0, 1.9, 0.0],   # box 1 is turned 90 degrees: its 4 m side lies along y
        [11.9, 0.0, 0.0],   # ... and its 2 m side along x: outside
    ])
    assert point_classes(points, gt).tolist() == [4, 4, 0, 0, 9, 0]
    empty = InstanceData(bboxes_3d=LiDARInstance3DBoxes(torch.zeros(0, 7)),
                         labels_3d=torch.zeros(0, dtype=torch.long))
    assert point_classes(points, empty).tolist() == [0] * 6


def front_camera(H=32, W=64):
    """One camera at the LiDAR origin looking along +x (f = W / 2, centred)."""
    cam2img = np.eye(4)
    cam2img[0, 0] = cam2img[1, 1] = W / 2
    cam2img[0, 2], cam2img[1, 2] = W / 2, H / 2
    lidar2cam = np.eye(4)
    lidar2cam[:3, :3] = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]])  # x fwd -> z fwd
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)[None, None]  # noqa: E731
    return dict(cam2img=as_t(cam2img), lidar2cam=as_t(lidar2cam),
                img_aug_matrix=as_t(np.eye(4)), lidar_aug_matrix=torch.eye(4)[None])


def test_cell_targets_keep_the_nearest_point_of_each_cell():
    cameras = front_camera()
    # straight ahead at 10.2 m and 20.7 m: both on pixel (32, 16) -> feature cell (2, 4)
    # of an 4 x 8 map (stride 8); 20 m to the left-up: pixel (32 + 16, 16 - 8) -> cell (1, 6)
    points = torch.tensor([[20.7, 0.0, 0.0], [10.2, 0.0, 0.0], [20.0, -10.0, 5.0],
                           [-5.0, 0.0, 0.0]])  # behind the camera: dropped
    classes = torch.tensor([0, 5, 2, 7])
    depth, cls = cell_targets(points, classes, cameras, 0, (32, 64), (4, 8), (1.0, 30.0, 1.0))
    assert depth.shape == cls.shape == (1, 4, 8)
    assert depth[0, 2, 4] == 9 and cls[0, 2, 4] == 5  # floor((10.2 - 1) / 1) = 9
    assert depth[0, 1, 6] == 19 and cls[0, 1, 6] == 2
    assert (depth >= 0).sum() == 2 and (cls >= 0).sum() == 2
