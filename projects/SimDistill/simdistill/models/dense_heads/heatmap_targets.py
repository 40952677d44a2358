"""Gaussian class-heatmap targets, drawn with mmdet3d's CenterPoint utilities."""
import torch
from mmdet3d.models.utils import draw_heatmap_gaussian, gaussian_radius
from torch import Tensor

from ...structures.bev_grid import HeadGrid


def gaussian_heatmap_targets(gt_bboxes: Tensor,
                             gt_labels: Tensor,
                             grid: HeadGrid,
                             num_classes: int,
                             gaussian_overlap: float = 0.1,
                             min_radius: int = 2) -> Tensor:
    """Draws one Gaussian per box at its centre cell, as CenterHead does.

    The radius (cells) is mmdet3d's ``gaussian_radius`` of the box's BEV size in cells, at least
    ``min_radius``; overlapping Gaussians of one class keep their maximum, so every box centre
    cell holds exactly 1. Boxes whose centre lies outside the grid draw nothing.

    Args:
        gt_bboxes (Tensor): ``(N, >=5)`` boxes ``(x, y, z, dx, dy, ...)``, metres.
        gt_labels (Tensor): ``(N,)`` class indices in ``[0, num_classes)``.
        grid (HeadGrid): the map's grid.
        num_classes (int): ``K``.
        gaussian_overlap (float): ``min_overlap`` of ``gaussian_radius``.
        min_radius (int): smallest radius, cells.

    Returns:
        Tensor: ``(K, ny, nx)`` float32 targets in ``[0, 1]``.
    """
    heatmap = gt_bboxes.new_zeros((num_classes, grid.ny, grid.nx), dtype=torch.float32)
    if len(gt_bboxes) == 0:
        return heatmap
    centers = grid.metric_to_cell(gt_bboxes[:, :2].float()).floor().long()
    # gaussian_radius takes tensors (it calls torch.sqrt), so sizes stay tensors
    sizes = gt_bboxes[:, 3:5].float() / gt_bboxes.new_tensor([grid.cell_x, grid.cell_y])
    for (x, y), (width, length), label in zip(centers.tolist(), sizes, gt_labels.tolist()):
        if width <= 0 or length <= 0 or not (0 <= x < grid.nx and 0 <= y < grid.ny):
            continue
        radius = gaussian_radius((length, width), min_overlap=gaussian_overlap)
        draw_heatmap_gaussian(heatmap[label], (x, y), max(min_radius, int(radius)))
    return heatmap
