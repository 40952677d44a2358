"""One figure per dataset sample: a model's predictions over its inputs and ground truth."""
import os.path as osp

import numpy as np

from ..utils.atomic import atomic_path
from .drawing import save_sample_figure


def network_images(data: dict) -> list:
    """The sample's images as fed to the network (pipeline output ``inputs['img']``,
    ``(N, 3, H, W)`` BGR float) as RGB ``(H, W, 3)`` uint8; empty without images."""
    imgs = data['inputs'].get('img')
    return [] if imgs is None else [
        np.ascontiguousarray(img.numpy().transpose(1, 2, 0)[..., ::-1]).clip(0, 255).astype(
            np.uint8) for img in imgs
    ]


def camera_names(meta: dict) -> list:
    """The camera of each image (its folder, e.g. ``CAM_FRONT``) from ``meta['img_path']``."""
    return [osp.basename(osp.dirname(p)) for p in meta.get('img_path', [])]


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
    points = data['inputs'].get('points')
    with atomic_path(path) as tmp:
        save_sample_figure(
            tmp, network_images(data), np.asarray(meta.get('lidar2img', np.zeros((0, 4, 4)))),
            camera_names(meta),
            None if points is None else points.numpy(), gt_bboxes_3d.corners.numpy(),
            pred.bboxes_3d.corners.numpy(), pred.scores_3d.numpy(), extent, title, score_thr)
