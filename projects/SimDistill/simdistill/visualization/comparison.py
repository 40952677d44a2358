"""Report pictures: several models side by side on one sample, and training-loss curves."""
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .drawing import draw_boxes_on_image, plot_bev, plt

# (model name, predicted corners (K, 8, 3), scores (K,))
Prediction = Tuple[str, np.ndarray, np.ndarray]


def save_comparison_figure(path: str, images: Sequence[np.ndarray], lidar2img: np.ndarray,
                           camera_names: Sequence[str], points: Optional[np.ndarray],
                           gt_corners: np.ndarray, predictions: Sequence[Prediction],
                           extent: float, title: str, score_thr: float = 0.3) -> None:
    """One PNG, a row per model: the six cameras with ground truth (green) and predicted boxes
    (red), and the BEV plot over the LiDAR points.

    Args:
        path: output PNG path (written as PNG whatever its suffix).
        images: the six RGB images ``(H, W, 3)`` uint8 the models saw.
        lidar2img: ``(6, 4, 4)`` projections matching ``images``.
        camera_names: six titles.
        points: ``(P, >=2)`` LiDAR points of the sample (drawn for every model), metres.
        gt_corners: ``(K, 8, 3)`` ground-truth corners, metres.
        predictions: per model its name, predicted corners and scores.
        extent: half-width of the BEV plots, metres.
        title: figure title.
        score_thr: predictions scoring below this are not drawn.
    """
    rows = len(predictions)
    fig = plt.figure(figsize=(22, 2.9 * rows + 0.6))
    grid = fig.add_gridspec(rows, 8, width_ratios=[1] * 6 + [0.05, 0.75])
    for r, (name, corners, scores) in enumerate(predictions):
        keep = scores >= score_thr
        for n, image in enumerate(images[:6]):
            ax = fig.add_subplot(grid[r, n])
            draw_boxes_on_image(ax, image, gt_corners, lidar2img[n], 'tab:green',
                                camera_names[n] if r == 0 else '')
            draw_boxes_on_image(ax, image, corners[keep], lidar2img[n], 'tab:red',
                                show_image=False)
            if n == 0:
                ax.text(-0.04, 0.5, name, transform=ax.transAxes, rotation=90, ha='right',
                        va='center', fontsize=11)
        ax = fig.add_subplot(grid[r, 7])
        plot_bev(ax, points, gt_corners, corners, scores, extent, score_thr)
        ax.set_title(f'{name}: {int(keep.sum())} boxes >= {score_thr}', fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlabel('')
        ax.set_ylabel('')
    fig.suptitle(f'{title} - ground truth green, predictions red', fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80, format='png')
    plt.close(fig)


def read_scalar_log(path: str) -> List[dict]:
    """The training records of an mmengine ``vis_data/scalars.json`` (one JSON object per
    line; the ones with a ``step`` and a ``loss``)."""
    records = []
    with open(path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                if 'loss' in record and 'step' in record:
                    records.append(record)
    if not records:
        raise ValueError(f'{path} holds no training losses')
    return records


def save_loss_curves(path: str, records: Sequence[dict], title: str) -> Dict[str, float]:
    """PNG of the training losses: the total, the detection terms summed over the tasks, and
    each distillation term (``loss_distill_*``), against the iteration, log scale.

    Returns:
        dict: the last logged value of each curve.
    """
    steps = np.array([r['step'] for r in records])
    curves = {'total': [r['loss'] for r in records],
              'detection (heatmap)': [sum(v for k, v in r.items() if k.endswith('loss_heatmap'))
                                      for r in records],
              'detection (boxes)': [sum(v for k, v in r.items() if k.endswith('loss_bbox'))
                                    for r in records]}
    for key in sorted({k for r in records for k in r if k.startswith('loss_distill_')}):
        curves[key] = [r.get(key, np.nan) for r in records]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    marker = 'o' if len(steps) < 30 else None  # a short run's few records stay visible
    for name, values in curves.items():
        ax.plot(steps, values, label=name, lw=1.2, marker=marker, ms=3)
    ax.set_yscale('log')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss (logged window mean)')
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format='png')
    plt.close(fig)
    return {name: float(values[-1]) for name, values in curves.items()}
