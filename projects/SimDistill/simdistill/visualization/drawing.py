"""Pictures of detections: a BEV plot and the boxes drawn on the six camera images."""
from typing import Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Box edges as corner-index pairs for mmdet3d's corner order (LiDARInstance3DBoxes.corners).
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5),
             (2, 6), (3, 7))


def bev_footprints(corners: np.ndarray) -> np.ndarray:
    """``(K, 8, 3)`` box corners -> ``(K, 4, 2)`` BEV footprints (x, y), metres."""
    return corners[:, [0, 3, 7, 4], :2]


def plot_bev(ax, points: Optional[np.ndarray], gt_corners: np.ndarray, pred_corners: np.ndarray,
             pred_scores: np.ndarray, extent: float, score_thr: float = 0.3) -> None:
    """Draws LiDAR points (grey), ground truth (green) and predictions (red) from above.

    Args:
        ax: a matplotlib axis.
        points: ``(P, >=2)`` LiDAR points (metres) or None for a camera-only model.
        gt_corners, pred_corners: ``(K, 8, 3)`` box corners, metres, LiDAR frame.
        pred_scores: ``(K,)`` prediction scores; those under ``score_thr`` are skipped.
        extent: half width of the plotted square, metres.
    """
    if points is not None and len(points):
        ax.scatter(points[:, 0], points[:, 1], s=0.2, c='0.6', linewidths=0)
    for poly in bev_footprints(gt_corners):
        ax.fill(poly[:, 0], poly[:, 1], fill=False, ec='tab:green', lw=1.2)
    keep = pred_scores >= score_thr
    for poly, score in zip(bev_footprints(pred_corners[keep]), pred_scores[keep]):
        ax.fill(poly[:, 0], poly[:, 1], fill=False, ec='tab:red', lw=1.0, alpha=float(score))
    ax.plot([0], [0], marker='^', c='k')  # the ego (LiDAR) position
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')


def project_corners(corners: np.ndarray, lidar2img: np.ndarray) -> np.ndarray:
    """``(K, 8, 3)`` corners -> ``(K, 8, 3)``: pixel u, v and depth (metres)."""
    homo = np.concatenate([corners, np.ones(corners.shape[:2] + (1, ))], axis=-1)
    proj = homo @ lidar2img.T
    depth = proj[..., 2:3]
    return np.concatenate([proj[..., :2] / np.maximum(depth, 1e-3), depth], axis=-1)


def draw_boxes_on_image(ax, image: np.ndarray, corners: np.ndarray, lidar2img: np.ndarray,
                        color: str, title: str = '', show_image: bool = True) -> None:
    """Draws the boxes wholly in front of the camera onto one image (RGB, HxWx3); with
    ``show_image=False`` onto an axis that already shows it (a second set of boxes)."""
    if show_image:
        ax.imshow(image)
    H, W = image.shape[:2]
    for uvd in project_corners(corners, lidar2img):
        if (uvd[:, 2] < 0.5).any():
            continue
        if uvd[:, 0].max() < 0 or uvd[:, 0].min() > W or uvd[:, 1].max() < 0 or \
                uvd[:, 1].min() > H:
            continue
        for i, j in BOX_EDGES:
            ax.plot(uvd[[i, j], 0], uvd[[i, j], 1], c=color, lw=0.8)
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    if title:  # a second call for more boxes keeps the first call's title
        ax.set_title(title, fontsize=8)
    ax.axis('off')


def save_sample_figure(path: str, images: Sequence[np.ndarray], lidar2img: np.ndarray,
                       camera_names: Sequence[str], points: Optional[np.ndarray],
                       gt_corners: np.ndarray, pred_corners: np.ndarray,
                       pred_scores: np.ndarray, extent: float, title: str,
                       score_thr: float = 0.3) -> None:
    """One PNG: the six cameras with predicted boxes (red) beside a BEV plot (the BEV plot
    alone when there are no images).

    Args:
        path: output PNG path.
        images: N RGB images ``(H, W, 3)`` uint8, as fed to the network.
        lidar2img: ``(N, 4, 4)`` projections matching ``images``.
        camera_names: N titles.
        points, gt_corners, pred_corners, pred_scores, extent: see :func:`plot_bev`.
        title: figure title.
    """
    keep = pred_scores >= score_thr
    if len(images):
        fig = plt.figure(figsize=(16, 6.5))
        grid = fig.add_gridspec(2, 5, width_ratios=[1, 1, 1, 0.05, 1.6])
        for n, image in enumerate(images[:6]):
            ax = fig.add_subplot(grid[n // 3, n % 3])
            draw_boxes_on_image(ax, image, pred_corners[keep], lidar2img[n], 'tab:red',
                                camera_names[n])
        ax = fig.add_subplot(grid[:, 4])
    else:  # a LiDAR-only model: the BEV plot alone
        fig, ax = plt.subplots(figsize=(7, 7))
    plot_bev(ax, points, gt_corners, pred_corners, pred_scores, extent, score_thr)
    ax.set_title('BEV: ground truth (green), predictions (red)', fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format='png')
    plt.close(fig)
