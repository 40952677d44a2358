"""The main job's report: devkit metrics of the teacher, the camera baseline and the distilled
student, the student's gain, stage times, side-by-side pictures and the student's loss curves.

    python tools/make_report.py --work-dir work_dirs/quickstart \
        --model teacher CONFIG CKPT TEST_DIR --model camera_baseline ... --model simdistill ... \
        --student-train-dir DIR [--times times.json] [--benchmark distill_gain.json]

Each ``--model`` names a config, its checkpoint and the ``--work-dir`` of its ``tools/test.py``
run (whose log holds the NuScenesMetric result); the names ``camera_baseline`` and
``simdistill`` get the difference lines. Writes ``<work-dir>/report.md`` and its PNGs
under ``<work-dir>/report/`` (atomically).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List

import numpy as np
import torch
from mmengine.dataset import pseudo_collate

import simdistill  # noqa: F401  (registers the modules)
from simdistill.compat import apply_all
from simdistill.deployment.loading import DictAction, build_model_and_dataset, load_config
from simdistill.utils.atomic import atomic_path, write_text_atomic
from simdistill.evaluation.metric_logs import read_nuscenes_metrics
from simdistill.visualization import camera_names, network_images
from simdistill.visualization.comparison import (read_scalar_log, save_comparison_figure,
                                                 save_loss_curves)

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'benchmarks'))
from distill_gain import METRICS, markdown  # noqa: E402

DISTANCES = ('0.5', '1.0', '2.0', '4.0')


def class_ap(metrics: Dict[str, float], cls: str) -> float:
    """The devkit's AP of one class: the mean over its four distance thresholds."""
    return float(np.mean([metrics[f'{cls}_AP_dist_{d}'] for d in DISTANCES]))


def train_seconds(times: Dict[str, float], name: str) -> float:
    """A model's training time in ``times`` (run_pipeline.sh's ``{stage: seconds}``): its stage
    ``train NAME`` and its earlier stages ``train NAME_*`` (the teacher's ``teacher_lidar``)."""
    return float(sum(seconds for stage, seconds in times.items()
                     if stage == f'train {name}' or stage.startswith(f'train {name}_')))


def metrics_section(models: Dict[str, dict], classes: List[str]) -> List[str]:
    """The devkit table, the SimDistill - baseline differences (with the benchmark's wording:
    one run has no seed spread, so no gain is claimed) and the AP per class."""
    summary = dict(epochs=None, models={
        name: dict(seeds=[0], train_wall_s=[m['train_s']], car_AP=[class_ap(m['metrics'], 'car')],
                   **{k: [m['metrics'][k]] for k in METRICS})
        for name, m in models.items()})
    table = markdown(summary).split('\n', 2)[2]  # without the benchmark's caption
    lines = [table.replace('| seeds |', '| runs |'), '',
             '| AP per class | ' + ' | '.join(models) + ' |', '|---|' + '---|' * len(models)]
    for cls in classes:
        lines.append(f'| {cls} | ' + ' | '.join(f'{class_ap(m["metrics"], cls):.3f}'
                                                for m in models.values()) + ' |')
    return lines


def predictions_for(cfg, checkpoint: str, indices: List[int]) -> list:
    """``(corners, scores)`` of one model on the given test samples."""
    model, dataset = build_model_and_dataset(cfg, checkpoint)
    out = []
    for index in indices:
        with torch.no_grad():
            pred = model.test_step(pseudo_collate([dataset[index]]))[0].pred_instances_3d
        out.append((pred.bboxes_3d.corners.numpy(), pred.scores_3d.numpy()))
    return out


def pictures(specs: Dict[str, tuple], cfg_options: dict, out_dir: str, num: int,
             score_thr: float) -> List[str]:
    """Side-by-side pictures of every model on ``num`` evenly spaced test samples; the first
    model's pipeline (the teacher's: points and images) supplies what is drawn."""
    first = load_config(next(iter(specs.values()))[0], cfg_options)
    _, dataset = build_model_and_dataset(first)
    indices = [int(i) for i in np.linspace(0, len(dataset) - 1, min(num, len(dataset)))]
    preds = {name: predictions_for(load_config(config, cfg_options), ckpt, indices)
             for name, (config, ckpt) in specs.items()}
    paths = []
    for k, index in enumerate(indices):
        data = dataset[index]
        meta = data['data_samples'].metainfo
        ann = dataset.parse_ann_info(dataset.get_data_info(index))
        points = data['inputs'].get('points')
        path = osp.join(out_dir, f'compare_{meta["sample_idx"]}.png')
        with atomic_path(path) as tmp:
            save_comparison_figure(
                tmp, network_images(data), np.asarray(meta['lidar2img']), camera_names(meta),
                None if points is None else points.numpy(),
                ann['gt_bboxes_3d'].corners.numpy(),
                [(name, *preds[name][k]) for name in specs],
                float(first.point_cloud_range[3]), f'sample {meta["sample_idx"]}', score_thr)
        paths.append(path)
    return paths


def main() -> None:
    apply_all()  # mmengine's load_checkpoint reads weights-only with the allow-list
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--model', nargs=4, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CKPT', 'TEST_DIR'))
    parser.add_argument('--student-train-dir', required=True,
                        help='the distiller training work dir (its loss log)')
    parser.add_argument('--times', help='JSON {stage: seconds} written by run_pipeline.sh')
    parser.add_argument('--train-times', nargs='*', default=[], metavar='NAME=SECONDS')
    parser.add_argument('--schedule', default='the configs\' schedule')
    parser.add_argument('--benchmark', help='a distill_gain.json to show beside')
    parser.add_argument('--num-pictures', type=int, default=3)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--note', default='', help='a line under the title')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()
    out_dir = osp.join(args.work_dir, 'report')
    times = json.load(open(args.times)) if args.times and osp.isfile(args.times) else {}
    models = {}
    for name, config, ckpt, test_dir in args.model:
        models[name] = dict(config=config, checkpoint=ckpt, metrics=read_nuscenes_metrics(
            test_dir), train_s=train_seconds(times, name))
    cfg = load_config(args.model[0][1], args.cfg_options)
    classes = list(cfg.class_names)
    lines = ['# SimDistill main job: report', '']
    if args.note:
        lines += [args.note, '']
    lines += [f'Evaluated on `{cfg.test_evaluator.ann_file}` by `NuScenesMetric` (the nuScenes '
              f'devkit, `detection_cvpr_2019`); trained with {args.schedule}. One run per '
              'model: the gain lines below say so rather than call a single-run difference a '
              'gain.', '', '## Metrics', '']
    lines += metrics_section(models, classes)
    if args.benchmark and osp.isfile(args.benchmark):
        bench = json.load(open(args.benchmark))
        lines += ['', '## The distillation benchmark beside it', '',
                  f'`{args.benchmark}` ({bench.get("epochs")} epochs, seeds '
                  f'{bench.get("seeds")}):', '', markdown(bench)]
    if times:
        lines += ['', '## Wall time per stage', '', '| stage | minutes |', '|---|---|']
        lines += [f'| {stage} | {seconds / 60:.1f} |' for stage, seconds in times.items()]
        lines.append(f'| **total** | {sum(times.values()) / 60:.1f} |')
    lines += ['', '## Pictures', '',
              f'Ground truth (green) and predictions scoring at least {args.score_thr} (red), on '
              'the six cameras and in BEV over the LiDAR points, one row per model:', '']
    specs = {name: (m['config'], m['checkpoint']) for name, m in models.items()}
    for path in pictures(specs, args.cfg_options, out_dir, args.num_pictures, args.score_thr):
        lines.append(f'![{osp.basename(path)}](report/{osp.basename(path)})')
    scalars = sorted(glob.glob(osp.join(args.student_train_dir, '*', 'vis_data', 'scalars.json')),
                     key=osp.getmtime)
    if scalars:
        curve_path = osp.join(out_dir, 'student_losses.png')
        with atomic_path(curve_path) as tmp:
            last = save_loss_curves(tmp, read_scalar_log(scalars[-1]),
                                    'SimDistill student: detection and distillation losses')
        lines += ['', '## Training losses of the student', '',
                  '![student_losses.png](report/student_losses.png)', '',
                  'Last logged values: ' + ', '.join(f'{k} {v:.3g}' for k, v in last.items())]
    report = osp.join(args.work_dir, 'report.md')
    write_text_atomic(report, '\n'.join(lines) + '\n')
    print(f'wrote {report}')


if __name__ == '__main__':
    main()
