"""Frustum geometry of the LSS view transform: where each (depth bin, feature cell) lands.

Conventions (BEVFusion's, kept by :mod:`simdistill.datasets.transforms`):

* ``cam2img`` ``(B, N, 4, 4)``: raw intrinsics padded to 4x4 (pixels).
* ``lidar2cam`` ``(B, N, 4, 4)``: raw LiDAR -> camera extrinsics (metres).
* ``img_aug_matrix`` ``(B, N, 4, 4)``: raw image point ``(u, v, d, 1)`` -> augmented image point;
  rotation/scale/flip in ``[:2, :2]``, translation (pixels) in ``[:2, 3]``, depth untouched.
* ``lidar_aug_matrix`` ``(B, 4, 4)``: raw LiDAR -> augmented LiDAR coordinates.
"""
from typing import Sequence

import torch
from torch import Tensor


def make_frustum(image_size: Sequence[int], feature_size: Sequence[int],
                 dbound: Sequence[float]) -> Tensor:
    """Frustum points in augmented-image coordinates.

    Args:
        image_size: ``(H, W)`` of the network input image, pixels.
        feature_size: ``(h, w)`` of the image feature map the depth net runs on.
        dbound: ``(d_min, d_max, d_step)`` of the depth bins, metres; bin ``k`` is at
            ``d_min + k * d_step``.

    Returns:
        Tensor: ``(D, h, w, 3)`` float32 ``(u, v, d)``; ``u, v`` in pixels of the input image
        (feature-cell centres spread over ``[0, W-1]`` / ``[0, H-1]``), ``d`` in metres.
    """
    (H, W), (h, w) = image_size, feature_size
    depths = torch.arange(*dbound, dtype=torch.float32)
    num_bins = depths.numel()
    us = torch.linspace(0, W - 1, w, dtype=torch.float32)
    vs = torch.linspace(0, H - 1, h, dtype=torch.float32)
    d = depths.view(-1, 1, 1).expand(num_bins, h, w)
    u = us.view(1, 1, w).expand(num_bins, h, w)
    v = vs.view(1, h, 1).expand(num_bins, h, w)
    return torch.stack((u, v, d), dim=-1)


def frustum_to_lidar(frustum: Tensor, cam2img: Tensor, lidar2cam: Tensor,
                     img_aug_matrix: Tensor, lidar_aug_matrix: Tensor) -> Tensor:
    """Maps frustum points to augmented LiDAR coordinates.

    For each view: undo the image augmentation on ``(u, v)``, lift ``(u d, v d, d)`` through
    the inverse intrinsics and extrinsics, then apply the LiDAR augmentation.

    Args:
        frustum: ``(D, h, w, 3)`` from :func:`make_frustum`.
        cam2img, lidar2cam, img_aug_matrix: ``(B, N, 4, 4)``.
        lidar_aug_matrix: ``(B, 4, 4)``.

    Returns:
        Tensor: ``(B, N, D, h, w, 3)`` points ``(x, y, z)`` in metres.
    """
    B, N = cam2img.shape[:2]
    pts = frustum.to(cam2img).view(1, 1, -1, 3) - img_aug_matrix[:, :, None, :3, 3]
    pts = torch.einsum('bnij,bnpj->bnpi', torch.linalg.inv(img_aug_matrix[..., :3, :3]), pts)
    pts = torch.cat((pts[..., :2] * pts[..., 2:3], pts[..., 2:3]), dim=-1)
    img2lidar = torch.linalg.inv(cam2img @ lidar2cam)  # (B, N, 4, 4)
    pts = torch.einsum('bnij,bnpj->bnpi', img2lidar[..., :3, :3], pts)
    pts = pts + img2lidar[:, :, None, :3, 3]
    pts = torch.einsum('bij,bnpj->bnpi', lidar_aug_matrix[:, :3, :3], pts)
    pts = pts + lidar_aug_matrix[:, None, None, :3, 3]
    return pts.view(B, N, *frustum.shape[:3], 3)
