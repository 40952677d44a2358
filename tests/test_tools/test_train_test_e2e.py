"""End to end on the synthetic data: tools/train.py trains a model, NuScenesMetric (the
devkit) scores it, the saved checkpoint loads (weights_only) into tools/test.py and into
`mim test mmdet3d`.

Two trainings: the CPU teacher for one epoch (16 iterations: losses fall, every tool runs), and
the CPU LiDAR-only model for 200 iterations on the 8 samples of the synthetic ``mini_val``
(no augmentation), long enough to clear a devkit floor on those samples that its untrained
weights cannot. That run measures fitting, not generalisation (the world-transfer and
distillation benchmarks measure that); a model whose boxes are decoded in another frame than
its targets were drawn in, or whose classes are mixed up, cannot fit its samples."""
import glob
import json
import math
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from simdistill.evaluation.metric_logs import read_nuscenes_metrics
from simdistill.testing import CPU_TEACHER, ROOT, data_options, run, save_untrained_checkpoint

pytestmark = pytest.mark.slow
TEACHER = CPU_TEACHER
# The fitted LiDAR-only model (tests/conftest.py, fitted_lidar_model), measured (seed 0, one
# thread): mAP 0.795 / NDS 0.653 (every class's AP at 2 m >= 0.81) in an earlier tree, 0.658 /
# 0.536 on 2026-12-07, the same in-training and through tools/test.py; after 100 iterations it
# was 0.095 / 0.089, so the floors leave room for the steep part of the curve moving with
# thread count or machine. Its untrained weights score mAP 0.0, NDS 0.016.
MAP_FLOOR = 0.5
NDS_FLOOR = 0.45
UNTRAINED_MAP_CEILING = 0.01


def training_losses(work_dir):
    """Per iteration (logged every iteration, unsmoothed): total and summed heatmap loss."""
    [path] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(path)]
    rows = sorted((r for r in rows if 'loss' in r), key=lambda r: r['iter'])
    return ([r['iter'] for r in rows], [r['loss'] for r in rows],
            [sum(v for k, v in r.items() if k.endswith('loss_heatmap')) for r in rows])


def test_training_saves_a_checkpoint_and_evaluates_with_the_devkit(trained_teacher):
    """Floors of the one-epoch run (16 iterations, seed 0). Measured in two runs: the loss
    fell from 145 and 136 (mean of iterations 1-4) to 94 and 89 (13-16), 0.65x both times;
    the heatmap loss from 59 / 63 to 29 / 29, 0.49x / 0.46x. Floors: 0.85x and 0.7x. The
    devkit cannot tell this model from an untrained one (mAP 0.0006 / 0.0002, NDS 0.014 /
    0.007; an untrained teacher: 0.0, 0.020), so it is held only to having boxes matched
    (NDS > 0); the fitted LiDAR-only model below is held to a devkit floor."""
    iters, total, heatmap = training_losses(trained_teacher)
    assert iters == list(range(1, 17))  # 32 training samples, batch 2
    assert all(math.isfinite(v) for v in total)
    assert sum(total[-4:]) < 0.85 * sum(total[:4]), total
    assert sum(heatmap[-4:]) < 0.7 * sum(heatmap[:4]), heatmap
    metrics = read_nuscenes_metrics(trained_teacher)
    assert 0.0 < metrics['NDS'] <= 1.0 and 0.0 <= metrics['mAP'] <= 1.0
    assert osp.isfile(osp.join(trained_teacher, 'epoch_1.pth'))


def test_trained_lidar_model_detects_its_training_samples(fitted_lidar_model):
    """200 iterations bring the devkit's mAP and NDS on the training samples (scored after
    the last epoch, inside tools/train.py) above the floors, and no class is left
    undetected."""
    fitted = read_nuscenes_metrics(fitted_lidar_model['work_dir'])
    assert fitted['mAP'] >= MAP_FLOOR, fitted
    assert fitted['NDS'] >= NDS_FLOOR, fitted
    per_class = {k: v for k, v in fitted.items() if k.endswith('_AP_dist_2.0')}
    assert len(per_class) == 10 and min(per_class.values()) > 0.2, per_class


def test_tools_test_scores_the_saved_checkpoint_above_a_floor_untrained_weights_miss(
        fitted_lidar_model, nuscenes_infos, tmp_path):
    """Train -> save -> tools/test.py -> devkit: the fitted model's checkpoint, loaded by
    tools/test.py, scores exactly what the training's own last evaluation scored (same
    weights, same samples), above the floor; the same config's untrained weights, through
    the same command, score below the ceiling."""
    config = fitted_lidar_model['config']
    scores = {}
    untrained = str(tmp_path / 'untrained.pth')
    save_untrained_checkpoint(config, untrained)
    for name, ckpt in (('trained', fitted_lidar_model['checkpoint']), ('untrained', untrained)):
        work_dir = str(tmp_path / name)
        run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
             '--cfg-options', *data_options(nuscenes_infos)])
        scores[name] = read_nuscenes_metrics(work_dir)
    in_training = read_nuscenes_metrics(fitted_lidar_model['work_dir'])
    assert scores['trained']['mAP'] == pytest.approx(in_training['mAP'], abs=1e-6)
    assert scores['trained']['NDS'] == pytest.approx(in_training['NDS'], abs=1e-6)
    assert scores['trained']['mAP'] >= MAP_FLOOR, scores
    assert scores['untrained']['mAP'] <= UNTRAINED_MAP_CEILING, scores


def test_checkpoint_loads_into_tools_test_with_weights_only(trained_teacher, nuscenes_infos):
    ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    # The runner's checkpoint holds numpy objects: plain torch.load refuses it...
    plain = subprocess.run([sys.executable, '-c', f'import torch; torch.load({ckpt!r})'],
                           capture_output=True, text=True)
    assert plain.returncode != 0 and 'weights_only' in plain.stderr.replace('\n', ' ')
    # ...and tools/test.py loads it with the plugin's allow-list, safe loading kept on.
    work_dir = osp.join(trained_teacher, 'test')
    out = run([
        sys.executable, 'tools/test.py', TEACHER, ckpt, '--work-dir', work_dir,
        '--cfg-options', *data_options(nuscenes_infos)
    ])
    assert 'mAP:' in out and 'NDS:' in out
    assert 0.0 <= read_nuscenes_metrics(work_dir)['NDS'] <= 1.0


@pytest.mark.skipif(shutil.which('mim') is None, reason='openmim is not installed')
def test_mim_test_runs_the_plugin_config(trained_teacher, nuscenes_infos):
    ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    out = run([
        'mim', 'test', 'mmdet3d', TEACHER, '--checkpoint', ckpt, '--work-dir',
        osp.join(trained_teacher, 'mim_test'), '--cfg-options', *data_options(nuscenes_infos)
    ])
    assert 'NDS:' in out


def test_visualize_draws_cameras_and_bev(trained_teacher, nuscenes_infos, tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, TEACHER))
    cfg.merge_from_dict(
        dict(option.split('=', 1) for option in data_options(nuscenes_infos)
             if 'test_dataloader.dataset.data_root' in option))
    config = str(tmp_path / 'teacher.py')
    cfg.dump(config)
    out_dir = tmp_path / 'pictures'
    run([
        sys.executable, 'tools/visualize.py', config,
        osp.join(trained_teacher, 'epoch_1.pth'), '--out-dir', str(out_dir), '--num-samples', '2'
    ])
    pngs = sorted(out_dir.glob('*.png'))
    assert len(pngs) == 2
    from mmengine.registry import init_default_scope
    from mmdet3d.registry import DATASETS
    init_default_scope('mmdet3d')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    infos = {str(dataset.get_data_info(i)['sample_idx']): dataset.get_data_info(i)
             for i in range(len(dataset))}
    extent = cfg.point_cloud_range[3]
    for png in pngs:
        image = np.asarray(Image.open(png).convert('RGB')).astype(int)
        assert image.shape[1] > 1000  # six cameras beside the BEV plot
        boxes = dataset.parse_ann_info(infos[png.stem])['gt_bboxes_3d'].tensor.numpy()
        check_ground_truth_drawn_where_it_is(image, boxes, extent)


def bev_plot_frame(image):
    """Pixel columns of the BEV plot's left/right spines and rows of its top/bottom ones:
    the dark lines spanning most of the right half of the figure (the cameras are left)."""
    half = image.shape[1] // 2
    dark = image[:, half:].max(axis=2) < 90
    cols, rows = dark.sum(axis=0), dark.sum(axis=1)
    spine_cols = np.flatnonzero(cols > 0.6 * cols.max()) + half
    spine_rows = np.flatnonzero(rows > 0.6 * rows.max())
    return spine_cols.min(), spine_cols.max(), spine_rows.min(), spine_rows.max()


def check_ground_truth_drawn_where_it_is(image, boxes, extent):
    """The BEV plot has green (ground truth) at the middle of every edge of each box inside
    it, computed here from (x, y, dx, dy, yaw), and none where no box is; its ego marker
    (black) sits at (0, 0)."""
    left, right, top, bottom = bev_plot_frame(image)
    assert abs((right - left) - (bottom - top)) <= 3  # equal axes: a square plot
    to_u = lambda x: int(round(left + (x + extent) / (2 * extent) * (right - left)))  # noqa
    to_v = lambda y: int(round(bottom - (y + extent) / (2 * extent) * (bottom - top)))  # noqa
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    is_green = (green - red > 40) & (green - blue > 40)  # tab:green is (44, 160, 44)

    def near(mask, x, y, radius):
        u, v = to_u(x), to_v(y)
        return bool(mask[v - radius:v + radius + 1, u - radius:u + radius + 1].any())

    assert near(image.max(axis=2) < 60, 0.0, 0.0, 3)  # the ego marker
    drawn = 0
    for x, y, dx, dy, yaw in boxes[:, [0, 1, 3, 4, 6]]:
        c, s = math.cos(yaw), math.sin(yaw)
        middles = [(x + a * c * dx / 2 - b * s * dy / 2, y + a * s * dx / 2 + b * c * dy / 2)
                   for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        if all(abs(m) < extent - 1 for point in middles for m in point):
            # a prediction (red) drawn later may cover one edge's middle
            assert sum(near(is_green, mx, my, 2) for mx, my in middles) >= 3, (x, y)
            drawn += 1
    assert drawn >= 1
    # no green on a 4 m lattice away from every box (2 m beyond its half diagonal)
    reach = np.hypot(boxes[:, 3], boxes[:, 4]) / 2 + 2.0
    empty = [(x, y) for x in np.arange(-extent + 2, extent - 2, 4.0)
             for y in np.arange(-extent + 2, extent - 2, 4.0)
             if (np.hypot(boxes[:, 0] - x, boxes[:, 1] - y) > reach).all()]
    assert len(empty) > 100
    assert not any(near(is_green, x, y, 1) for x, y in empty)
