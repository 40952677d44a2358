"""Global LiDAR/BEV augmentations that also record ``lidar_aug_matrix`` and fix ``lidar2img``.

They work without points too (a camera-only pipeline): the boxes and the matrices move alike.
"""
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
from mmdet3d.datasets.transforms import GlobalRotScaleTrans, RandomFlip3D
from mmdet3d.registry import TRANSFORMS
from mmdet3d.structures import LiDARPoints

from .geometry import apply_lidar_aug

# BEV flips as mmdet3d applies them to LiDAR points and boxes: 'horizontal' negates y,
# 'vertical' negates x.
_FLIP_MATRICES = {
    'horizontal': np.diag([1.0, -1.0, 1.0, 1.0]),
    'vertical': np.diag([-1.0, 1.0, 1.0, 1.0]),
}


def _to_numpy(value: Any) -> np.ndarray:
    """A torch tensor or array-like as a float64 numpy array."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


@contextmanager
def points_optional(input_dict: dict) -> Iterator[dict]:
    """Lends mmdet3d's augmentations, which always move ``points``, an empty point cloud when
    the pipeline loads none (camera-only models), and takes it back afterwards."""
    borrowed = 'points' not in input_dict
    if borrowed:
        input_dict['points'] = LiDARPoints(np.zeros((0, 3), dtype=np.float32), points_dim=3)
    try:
        yield input_dict
    finally:
        if borrowed:
            input_dict.pop('points', None)


@TRANSFORMS.register_module()
class BEVGlobalRotScaleTrans(GlobalRotScaleTrans):
    """mmdet3d's ``GlobalRotScaleTrans`` that records what it did to the LiDAR frame.

    The parent rotates points and ``gt_bboxes_3d`` about the z axis by an angle drawn in
    ``rot_range`` (radians; mmdet3d applies it as ``points @ rot_mat_T``, a counter-clockwise
    rotation seen from above, and adds the angle to the box yaw), then scales by a factor in
    ``scale_ratio_range`` and translates by ``N(0, translation_std)`` metres. Here the
    resulting map ``p -> s * R @ p + t`` (``R = pcd_rotation.T``) is composed onto
    ``lidar_aug_matrix`` and ``lidar2img`` becomes ``lidar2img @ inv(A)``, so augmented points
    still project onto their pixels. Without images only ``lidar_aug_matrix`` is recorded.

    Required keys: none; optional ``points``, ``gt_bboxes_3d``, ``img``/``cam2img``/``lidar2cam``.
    Added/modified keys: those of the parent (``points``, ``gt_bboxes_3d``, ``pcd_rotation``,
    ``pcd_rotation_angle``, ``pcd_scale_factor``, ``pcd_trans``, ``transformation_3d_flow``)
    plus ``lidar_aug_matrix`` and ``lidar2img``.

    Args:
        rot_range (Sequence[float]): rotation range in radians. Defaults to
            ``[-0.78539816, 0.78539816]``.
        scale_ratio_range (Sequence[float]): scale factor range (dimensionless). Defaults to
            ``[0.95, 1.05]``.
        translation_std (Sequence[float]): standard deviation of the x, y, z translation in
            metres. Defaults to ``[0, 0, 0]``.
        shift_height (bool): also scale the 'height' point attribute. Defaults to False.
    """

    def transform(self, input_dict: dict) -> dict:
        """Rotate, scale and translate points and boxes, and record the map.

        Args:
            input_dict (dict): the results dict.

        Returns:
            dict: the updated results.
        """
        with points_optional(input_dict):
            input_dict = super().transform(input_dict)
        rot = _to_numpy(input_dict['pcd_rotation']).T
        scale = float(input_dict['pcd_scale_factor'])
        trans = _to_numpy(input_dict['pcd_trans']).reshape(3)
        # the parent applies rotation, then scale, then translation
        aug = np.eye(4)
        aug[:3, :3] = scale * rot
        aug[:3, 3] = trans
        apply_lidar_aug(input_dict, aug)
        return input_dict


@TRANSFORMS.register_module()
class BEVRandomFlip3D(RandomFlip3D):
    """Random BEV flips of points and boxes (never of the images), recorded as matrices.

    Unlike mmdet3d's ``RandomFlip3D`` this never flips ``img`` (the camera views are
    augmented by :class:`MultiViewImageAug3D`; flipping the LiDAR frame only changes
    ``lidar2img``). A horizontal flip negates y (box yaw -> -yaw), a vertical one negates x
    (yaw -> pi - yaw), as mmdet3d does; each flip ``F`` is composed onto ``lidar_aug_matrix``
    and ``lidar2img`` becomes ``lidar2img @ inv(F)``. Preset ``pcd_horizontal_flip`` /
    ``pcd_vertical_flip`` flags in the results are obeyed, as in the parent.

    Required keys: ``points`` and/or ``gt_bboxes_3d``. Added/modified keys: ``points``,
    ``gt_bboxes_3d``, ``pcd_horizontal_flip``, ``pcd_vertical_flip``,
    ``transformation_3d_flow``, ``lidar_aug_matrix``, ``lidar2img``. ``centers_2d`` is not
    supported (the parent asserts on it when images are not flipped along).

    Args:
        flip_ratio_bev_horizontal (float): probability of a horizontal (y -> -y) flip.
            Defaults to 0.0.
        flip_ratio_bev_vertical (float): probability of a vertical (x -> -x) flip. Defaults
            to 0.0.
    """

    def __init__(self,
                 flip_ratio_bev_horizontal: float = 0.0,
                 flip_ratio_bev_vertical: float = 0.0) -> None:
        super().__init__(
            sync_2d=False,
            flip_ratio_bev_horizontal=flip_ratio_bev_horizontal,
            flip_ratio_bev_vertical=flip_ratio_bev_vertical,
            flip_box3d=True)

    def transform(self, input_dict: dict) -> dict:
        """Flip points and boxes in BEV and record the flips.

        Args:
            input_dict (dict): the results dict.

        Returns:
            dict: the updated results.
        """
        if 'pcd_horizontal_flip' not in input_dict:
            input_dict['pcd_horizontal_flip'] = bool(
                np.random.rand() < self.flip_ratio_bev_horizontal)
        if 'pcd_vertical_flip' not in input_dict:
            input_dict['pcd_vertical_flip'] = bool(np.random.rand() < self.flip_ratio_bev_vertical)
        flow = input_dict.setdefault('transformation_3d_flow', [])
        aug = np.eye(4)
        for direction, flag_key, tag in (('horizontal', 'pcd_horizontal_flip', 'HF'),
                                         ('vertical', 'pcd_vertical_flip', 'VF')):
            if input_dict[flag_key]:
                with points_optional(input_dict):
                    self.random_flip_data_3d(input_dict, direction)
                flow.append(tag)
                aug = _FLIP_MATRICES[direction] @ aug
        apply_lidar_aug(input_dict, aug)
        return input_dict

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'flip_ratio_bev_horizontal={self.flip_ratio_bev_horizontal}, '
                f'flip_ratio_bev_vertical={self.flip_ratio_bev_vertical})')
