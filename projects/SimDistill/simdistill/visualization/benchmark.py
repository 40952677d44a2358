"""The distillation benchmark's picture: learning curves (mAP) and the depth metric per epoch."""
from typing import Dict, List, Sequence, Tuple

from matplotlib.ticker import MaxNLocator

from .drawing import plt

Series = Dict[str, Tuple[List[int], List[float]]]
PANELS = (('mAP', 'mAP (devkit, test scenes)'),
          ('depth_within_1m', 'depth: share of cells whose most likely\nbin is within 1 m'))


def curve_series(runs: Sequence[dict], metric: str) -> Series:
    """``{"<name> seed <s>": (epochs, values)}`` of every run whose curve holds ``metric``
    (``runs``: distill_gain records, each with ``curve``: ``[{"epoch": e, metric: v, ...}]``);
    for a model with a simulated-LiDAR branch also ``"<name> seed <s> (sim. LiDAR)"`` from its
    ``sim_lidar_<metric>``."""
    series: Series = {}
    for run in runs:
        for key, suffix in ((metric, ''), (f'sim_lidar_{metric}', ' (sim. LiDAR)')):
            points = [(c['epoch'], c[key]) for c in run.get('curve', []) if key in c]
            if points:
                epochs, values = zip(*sorted(points))
                series[f"{run['name']} seed {run['seed']}{suffix}"] = (list(epochs), list(values))
    return series


def save_learning_curves(path: str, runs: Sequence[dict], title: str) -> Dict[str, Series]:
    """One PNG: mAP per epoch (left) and the depth metric per epoch (right), a line per run
    (colour per model, dashed: the simulated-LiDAR branch); a model evaluated once (the
    teacher) is a horizontal line at its score.

    Returns:
        ``{metric: series}``: exactly what was drawn.
    """
    drawn = {metric: curve_series(runs, metric) for metric, _ in PANELS}
    names = sorted({run['name'] for run in runs})
    colours = {name: plt.get_cmap('tab10')(i % 10) for i, name in enumerate(names)}
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 4.6))
    for ax, (metric, label) in zip(axes, PANELS):
        for key, (epochs, values) in drawn[metric].items():
            name = key.split(' seed ')[0]
            style = '--' if key.endswith('(sim. LiDAR)') else '-'
            if len(epochs) == 1:
                ax.axhline(values[0], color=colours[name], linestyle=':', label=key)
            else:
                ax.plot(epochs, values, style, marker='o', color=colours[name], label=key)
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if drawn[metric]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format='png')
    plt.close(fig)
    return drawn
