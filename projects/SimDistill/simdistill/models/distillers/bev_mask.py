"""Region-aware mask of the cross-modal loss: the ground-truth Gaussian heatmap on a BEV grid."""
from typing import List, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from ...structures.bev_grid import HeadGrid
from ..dense_heads import gaussian_heatmap_targets


def gt_heatmap_mask(batch_gt_instances_3d: Sequence[InstanceData], grid: HeadGrid,
                    num_classes: int, gaussian_overlap: float = 0.1,
                    min_radius: int = 2) -> Tensor:
    """One Gaussian per ground-truth box, drawn as the head draws its heatmap targets.

    The class heatmaps of :func:`gaussian_heatmap_targets` are merged by their maximum (the
    authors' release sums them, which only differs where Gaussians of two classes overlap and
    can exceed 1 there); boxes with a label outside ``[0, num_classes)`` are ignored.

    Args:
        batch_gt_instances_3d: per sample ``bboxes_3d`` (mmdet3d boxes, metres) and
            ``labels_3d``.
        grid: the BEV map's grid (an LSS view transform's is its ``map_grid``).
        num_classes: ``K``.
        gaussian_overlap, min_radius: as for :func:`gaussian_heatmap_targets`.

    Returns:
        Tensor: ``(B, 1, ny, nx)`` in ``[0, 1]``, exactly 1 at every box centre cell inside the
        grid, 0 far from every box.
    """
    masks: List[Tensor] = []
    for gt in batch_gt_instances_3d:
        boxes, labels = gt.bboxes_3d.tensor, gt.labels_3d
        valid = (labels >= 0) & (labels < num_classes)
        heat = gaussian_heatmap_targets(boxes[valid], labels[valid], grid, num_classes,
                                        gaussian_overlap, min_radius)
        masks.append(heat.amax(dim=0, keepdim=True))
    return torch.stack(masks)
