"""Depth accuracy of an LSS view transform against the LiDAR: did a camera model learn geometry?

mAP moves late: a camera model can place depth mass at the right distance long before its
detections clear the devkit's thresholds, and distillation from a LiDAR teacher should show
there first. The metric: of the image feature cells that a LiDAR point falls in, the share whose
most probable depth bin lies within a tolerance (1 m and 3 m) of the point's depth.

Conventions (those of :mod:`simdistill.models.view_transforms.frustum`): bin ``k`` of
``dbound = (d_min, d_max, d_step)`` stands for the depth ``d_min + k * d_step``; the feature
cell ``(i, j)`` of an ``(h, w)`` map is centred at pixel ``(j (W - 1) / (w - 1),
i (H - 1) / (h - 1))`` of the ``(H, W)`` network input, and a pixel belongs to the nearest
centre. A cell's reference depth is the nearest LiDAR point in it (what the camera sees there);
only points inside the depth range ``[d_min, d_max)`` count, since no bin can represent others.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from ..models.view_transforms.lss import project_points

__all__ = ['DepthHits', 'cell_reference_depths', 'depth_hits']

TOLERANCES = (1.0, 3.0)  # metres


@dataclass
class DepthHits:
    """Counts of one or more batches; :meth:`shares` turns them into the metric.

    Attributes:
        cells: feature cells with at least one LiDAR point in the depth range.
        within: tolerance (m) -> cells whose argmax bin is within it of the reference depth.
    """

    cells: int = 0
    within: Dict[float, int] = None

    def __post_init__(self) -> None:
        self.within = dict(self.within or {t: 0 for t in TOLERANCES})

    def __iadd__(self, other: 'DepthHits') -> 'DepthHits':
        self.cells += other.cells
        for tol, count in other.within.items():
            self.within[tol] = self.within.get(tol, 0) + count
        return self

    def shares(self) -> Dict[str, float]:
        """``{'depth_within_1m': share, 'depth_within_3m': share, 'depth_cells': n}``."""
        out = {f'depth_within_{tol:g}m': (count / self.cells if self.cells else float('nan'))
               for tol, count in sorted(self.within.items())}
        out['depth_cells'] = self.cells
        return out


def cell_reference_depths(points: Tensor, cameras: Dict[str, Tensor], sample: int,
                          image_size: Sequence[int], feature_size: Sequence[int],
                          depth_range: Tuple[float, float]) -> Tensor:
    """Nearest LiDAR depth per feature cell of every view of one sample.

    Args:
        points: ``(P, >=3)`` augmented LiDAR points of the sample, metres.
        cameras: stacked camera matrices (``stack_camera_matrices``).
        sample: the sample's index in the batch.
        image_size: ``(H, W)`` network input, pixels.
        feature_size: ``(h, w)`` of the depth distribution.
        depth_range: ``[d_min, d_max)`` of the bins, metres.

    Returns:
        Tensor: ``(N, h, w)`` depths in metres, ``inf`` where no point falls.
    """
    (H, W), (h, w) = image_size, feature_size
    uvd = project_points(points[:, :3], cameras, sample)  # (N, P, 3)
    N = uvd.shape[0]
    u, v, d = uvd.unbind(-1)
    col = torch.round(u * (w - 1) / (W - 1)).long()
    row = torch.round(v * (h - 1) / (H - 1)).long()
    keep = ((u >= 0) & (u <= W - 1) & (v >= 0) & (v <= H - 1) & (d >= depth_range[0]) &
            (d < depth_range[1]))
    view = torch.arange(N, device=uvd.device)[:, None].expand_as(u)
    flat = (view * h + row) * w + col
    out = torch.full((N * h * w, ), float('inf'), dtype=d.dtype, device=d.device)
    out.scatter_reduce_(0, flat[keep], d[keep], reduce='amin')
    return out.view(N, h, w)


def depth_hits(depth: Tensor, points: List[Tensor], cameras: Dict[str, Tensor],
               image_size: Sequence[int], dbound: Sequence[float],
               tolerances: Sequence[float] = TOLERANCES) -> DepthHits:
    """Counts how often the most probable depth bin matches the LiDAR, over a batch.

    Args:
        depth: ``(B, N, D, h, w)`` depth distribution (or logits: only the argmax is used).
        points: per sample ``(P, >=3)`` augmented LiDAR points, metres.
        cameras: stacked camera matrices of the batch.
        image_size: ``(H, W)`` network input, pixels.
        dbound: ``(d_min, d_max, d_step)`` of the depth bins, metres.
        tolerances: metres.
    """
    B, N, D, h, w = depth.shape
    bin_depths = dbound[0] + dbound[2] * torch.arange(D, dtype=torch.float64,
                                                      device=depth.device)
    predicted = bin_depths[depth.argmax(dim=2)]  # (B, N, h, w)
    hits = DepthHits(within={t: 0 for t in tolerances})
    for b in range(B):
        reference = cell_reference_depths(points[b].to(torch.float64), {
            k: m.to(torch.float64) for k, m in cameras.items()
        }, b, image_size, (h, w), (dbound[0], dbound[1]))
        seen = torch.isfinite(reference)
        hits.cells += int(seen.sum())
        error = (predicted[b] - reference).abs()[seen]
        for tol in tolerances:
            hits.within[tol] += int((error <= tol).sum())
    return hits


def lss_transforms(model) -> Dict[str, object]:
    """The camera model's LSS view transforms by role: ``camera`` (``view_transform``) and,
    for a SimDistill student, ``sim_lidar`` (``sim_lidar_view_transform``); a distiller's
    student is looked up under ``model.student``."""
    model = getattr(model, 'student', model)
    out = {'camera': model.view_transform}
    if getattr(model, 'sim_lidar_view_transform', None) is not None:
        out['sim_lidar'] = model.sim_lidar_view_transform
    return out


@torch.no_grad()
def evaluate_depth(model, dataloader, progress: bool = True) -> Dict[str, float]:
    """:func:`depth_hits` of every LSS of ``model`` over ``dataloader`` (whose pipeline must
    pack ``points`` besides the images; the model itself still sees the images only).

    Only what the depth distributions depend on runs: the image backbone and neck once
    (``extract_img_feat``), then each LSS's depth net (``depth_and_context``), as the model's
    own forward calls them; the BEV pool, GCM, fuser, decoder and head do not run (107 s -> 57 s
    for a CPU student on the benchmark's 320 test samples, docs/results.md).

    Returns:
        dict: ``depth_within_1m``, ``depth_within_3m``, ``depth_cells`` of the camera branch,
        and the same prefixed ``sim_lidar_`` for a student's simulated-LiDAR branch.
    """
    from mmengine.utils import ProgressBar
    model.eval()
    transforms = lss_transforms(model)
    camera_model = getattr(model, 'student', model)
    totals = {role: DepthHits() for role in transforms}
    bar = ProgressBar(len(dataloader)) if progress else None
    for batch in dataloader:
        data = model.data_preprocessor(batch, training=False)
        points = data['inputs'].pop('points')
        metas = [s.metainfo for s in data['data_samples']]
        imgs, cameras = camera_model.images_and_cameras(data['inputs'], metas)
        img_feats = camera_model.extract_img_feat(imgs)
        for role, transform in transforms.items():
            depth, _ = transform.depth_and_context(img_feats, cameras)
            totals[role] += depth_hits(depth, points, cameras, transform.image_size,
                                       transform.dbound)
        if bar is not None:
            bar.update()
    out = {}
    for role, hits in totals.items():
        prefix = '' if role == 'camera' else f'{role}_'
        out.update({prefix + k: v for k, v in hits.shares().items()})
    return out
