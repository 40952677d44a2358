"""Targets of the image-backbone pre-training (``tools/pretrain_image_backbone.py``).

Every image feature cell a LiDAR point of the same sample projects into is labelled with the
depth bin of its nearest point and the class of the box holding that point (or background).
"""
import torch
from mmcv.ops import points_in_boxes_cpu
from torch import Tensor, nn

from .view_transforms import project_points


def point_classes(points: Tensor, gt_instances, margin: float = 0.1) -> Tensor:
    """Class of each point: 0 for background, ``label + 1`` inside a box (the first box, if
    enlarged boxes overlap).

    Args:
        points: ``(P, 3)`` LiDAR coordinates, metres.
        gt_instances: ``bboxes_3d`` (mmdet3d LiDAR boxes) and ``labels_3d``.
        margin: every box is enlarged by this much on each side (metres), so points on a
            surface count as inside.

    Returns:
        Tensor: ``(P,)`` long.
    """
    labels = gt_instances.labels_3d.to(points.device)
    if len(labels) == 0:
        return points.new_zeros(len(points), dtype=torch.long)
    boxes = gt_instances.bboxes_3d.enlarged_box(margin).tensor[:, :7].to(points)
    inside = points_in_boxes_cpu(points[None].float().contiguous(),
                                 boxes[None].float().contiguous())[0].bool()  # (P, M)
    first = inside.float().argmax(dim=1)
    return torch.where(inside.any(dim=1), labels[first] + 1, 0)


def cell_targets(points: Tensor, point_cls: Tensor, cameras: dict, sample: int, image_size,
                 feature_size, dbound) -> tuple:
    """Depth-bin and class targets per feature cell of every view of one sample.

    Args:
        points: ``(P, 3)`` augmented LiDAR coordinates, metres.
        point_cls: ``(P,)`` class of each point (see :func:`point_classes`).
        cameras: the batch's camera matrices (``stack_camera_matrices``).
        sample: index of the sample in the batch.
        image_size: ``(H, W)`` of the network input, pixels.
        feature_size: ``(h, w)`` of the feature map the targets are for.
        dbound: ``(d_min, d_max, step)`` of the depth bins, metres (the LSS's).

    Returns:
        tuple: ``depth_bin`` and ``cls`` ``(N, h, w)`` long, -1 where no point projects;
        ``cls`` is 0 for background and ``label + 1`` for a box's class.
    """
    H, W = image_size
    h, w = feature_size
    uvd = project_points(points, cameras, sample)  # (N, P, 3)
    N = uvd.shape[0]
    u, v, d = uvd.unbind(-1)
    keep = (d > dbound[0]) & (d < dbound[1]) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    view = torch.arange(N)[:, None].expand_as(d)
    cell = (view * h + (v * h / H).long().clamp(0, h - 1)) * w + (u * w / W).long().clamp(0, w - 1)
    cell, depth, cls = cell[keep], d[keep], point_cls[None].expand_as(d)[keep]
    # nearest point per cell: sort by (cell, depth), keep the first of each cell
    order = torch.argsort(cell.double() * 1e4 + depth.double())
    cell, depth, cls = cell[order], depth[order], cls[order]
    first = torch.ones_like(cell, dtype=torch.bool)
    first[1:] = cell[1:] != cell[:-1]
    depth_bin = torch.full((N * h * w, ), -1, dtype=torch.long)
    cls_map = torch.full((N * h * w, ), -1, dtype=torch.long)
    num_bins = round((dbound[1] - dbound[0]) / dbound[2])
    depth_bin[cell[first]] = ((depth[first] - dbound[0]) / dbound[2]).long().clamp(
        0, num_bins - 1)
    cls_map[cell[first]] = cls[first]
    return depth_bin.view(N, h, w), cls_map.view(N, h, w)


class PretrainHead(nn.Module):
    """1x1 conv: neck features -> depth-bin and class logits per cell."""

    def __init__(self, in_channels: int, num_bins: int, num_classes: int) -> None:
        super().__init__()
        self.num_bins = num_bins
        self.conv = nn.Conv2d(in_channels, num_bins + num_classes + 1, 1)

    def forward(self, x: Tensor) -> tuple:
        out = self.conv(x)
        return out[:, :self.num_bins], out[:, self.num_bins:]
