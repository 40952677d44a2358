"""One figure per dataset sample: a model's predictions over its inputs and ground truth."""
import os.path as osp

import numpy as np

from ..utils.atomic import atomic_path
from .drawing import save_sample_figure


def save_prediction_figure(path: str, data: dict, meta: dict, pred, gt_bboxes_3d, extent: float,
                           title: str, score_thr: float = 0.3) -> None:
    """Writes ``path`` (PNG, atomically): the six cameras with the predicted boxes beside a BEV
    plot of the points, the ground truth and the predictions.

    Args:
        data: the test pipeline's output for the sample (``inputs['img']`` ``(N, 3, H, W)``
            BGR as fed to the network, ``inputs['points']`` optional).
        meta: the sample's metainfo (``lidar2img``, ``img_path``, ``sample_idx``).
        pred: ``InstanceData`` with ``bboxes_3d`` and ``scores_3d``.
        gt_bboxes_3d: the sample's ground-truth boxes (mmdet3d LiDAR boxes).
        extent: half-width of the BEV plot, metres.
        title: figure title.
        score_thr: boxes scoring below this are not drawn.
    """
    imgs = data['inputs'].get('img')
    images = [] if imgs is None else [
        np.ascontiguousarray(img.numpy().transpose(1, 2, 0)[..., ::-1]).clip(0, 255).astype(
            np.uint8) for img in imgs
    ]
    names = [osp.basename(osp.dirname(p)) for p in meta.get('img_path', [])]
    points = data['inputs'].get('points')
    with atomic_path(path) as tmp:
        save_sample_figure(
            tmp, images, np.asarray(meta.get('lidar2img', np.zeros((0, 4, 4)))), names,
            None if points is None else points.numpy(), gt_bboxes_3d.corners.numpy(),
            pred.bboxes_3d.corners.numpy(), pred.scores_3d.numpy(), extent, title, score_thr)
