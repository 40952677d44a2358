"""The distillation gain on the synthetic data: teacher, camera baseline, SimDistill, ablations.

    python tools/benchmarks/distill_gain.py                  # everything, resumable
    python tools/benchmarks/distill_gain.py --only teacher camera_baseline
    python tools/benchmarks/distill_gain.py --seeds 0 --epochs 2 --out work_dirs/bench-smoke

Trains, with one fixed schedule (``--epochs``), the CPU teacher once, then the camera baseline
and the SimDistill student with every seed, plus one run (first seed) per ablation: each
distillation term removed, and the student trained without distillation. Each run is
``tools/train.py`` (``--resume``) then ``tools/test.py`` (``NuScenesMetric``, the devkit) in
its own work folder; a run whose ``metrics.json`` exists is skipped, and a killed training
resumes from its last checkpoint, so re-running the command continues where it stopped.
After every run the tables are rewritten (atomically): ``<out>/distill_gain.json`` (per model
and metric one value per seed, wall times, seeds, the schedule) and ``<out>/distill_gain.md``
(mean +- spread, spread = max - min over seeds).
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
from simdistill.utils.atomic import atomic_path  # noqa: E402
from simdistill.utils.metric_logs import read_nuscenes_metrics  # noqa: E402

TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'
BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
STUDENT = 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'
DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'
METRICS = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')
# ablation name -> (config, extra --cfg-options); each removes one distillation term
ABLATIONS = {
    'student_without_distillation': (STUDENT, []),
    'no_distill_camera': (DISTILLER, ['model.loss_distill_camera=None']),
    'no_distill_lidar': (DISTILLER, ['model.loss_distill_lidar=None',
                                     'model.lidar_adapter=None']),
    'no_distill_fused': (DISTILLER, ['model.loss_distill_fused=None']),
    'no_distill_prediction': (DISTILLER, ['model.loss_distill_heatmap=None',
                                          'model.loss_distill_reg=None']),
}


def schedule_options(epochs: int) -> List[str]:
    return [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'param_scheduler.1.T_max={epochs}', f'param_scheduler.1.end={epochs}',
            'default_hooks.checkpoint.interval=1']


def resolved_config(config: str, cfg_options: List[str]):
    """The config (bases merged) with the run's ``--cfg-options`` applied."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict({k: DictAction._parse_iterable(v)
                         for k, v in (o.split('=', 1) for o in cfg_options)})
    return cfg


def config_fingerprint(config: str, cfg_options: List[str]) -> str:
    """sha1 of the resolved config (bases merged) with the run's options applied."""
    return hashlib.sha1(resolved_config(config, cfg_options).pretty_text.encode()).hexdigest()


def run_logged(args: List[str], log: str) -> None:
    """Runs a command, its output appended to ``log``; raises naming the log on failure."""
    with open(log, 'a') as f:
        f.write(f'\n$ {" ".join(args)}\n')
        f.flush()
        code = subprocess.call(args, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if code:
        raise RuntimeError(f'{" ".join(args[:3])} ... failed (exit {code}); see {log}')


def teacher_weights_sha1(checkpoint: str) -> str:
    """sha1 over the names and bytes of a checkpoint's tensors (not its file: runner
    checkpoints also hold timestamps)."""
    from simdistill.compat import load_checkpoint_file
    from simdistill.utils.state_dicts import plain_state_dict
    state = plain_state_dict(load_checkpoint_file(checkpoint, map_location='cpu'), checkpoint)
    digest = hashlib.sha1()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


CODE_DIR = osp.join(ROOT, 'projects', 'SimDistill', 'simdistill')
CODE_SUFFIXES = ('.py', '.cpp', '.cu', '.h')
# Plugin folders that cannot change what a run trains or scores: the data generator (the data
# count by their info files, data_fingerprint), ONNX export, checkpoint converters, pictures.
# Leaving them out lets a benchmark that spans sessions survive work on them.
CODE_NOT_IN_RUNS = ('datasets/synthetic_nuscenes', 'deployment', 'model_conversion',
                    'visualization')


def code_fingerprint(code_dir: str = CODE_DIR) -> str:
    """sha1 over the plugin's source files that a run executes (paths and bytes): a run made by
    other code is not the same run, committed or not."""
    digest = hashlib.sha1()
    for folder, dirs, files in os.walk(code_dir):
        dirs[:] = sorted(
            d for d in dirs if d != '__pycache__' and osp.relpath(
                osp.join(folder, d), code_dir).replace(os.sep, '/') not in CODE_NOT_IN_RUNS)
        for name in sorted(f for f in files if f.endswith(CODE_SUFFIXES)):
            path = osp.join(folder, name)
            digest.update(osp.relpath(path, code_dir).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def data_fingerprint(config: str, cfg_options: List[str]) -> str:
    """sha1 of the info files the run trains and evaluates on (another generated world, or
    another seed of it, is other data); a missing file counts by its path."""
    cfg = resolved_config(config, cfg_options)
    train = cfg.train_dataloader.dataset
    train = train.get('dataset', train)  # CBGS and repeat wrappers
    digest = hashlib.sha1()
    for path in (osp.join(train.data_root, train.ann_file), cfg.val_evaluator.ann_file):
        digest.update(path.encode() if not osp.isfile(path) else open(path, 'rb').read())
    return digest.hexdigest()


def run_fingerprint(config: str, cfg_options: List[str], teacher_ckpt: Optional[str]) -> str:
    """What a run's result depends on: the resolved config with its options, the plugin's code,
    the info files and, for a distiller, the teacher's weights (not the path they were read
    from)."""
    options = [o for o in cfg_options if not o.startswith('model.teacher_ckpt=')]
    fingerprint = hashlib.sha1((config_fingerprint(config, options) + code_fingerprint() +
                                data_fingerprint(config, options)).encode()).hexdigest()
    if teacher_ckpt:
        fingerprint = hashlib.sha1(
            (fingerprint + teacher_weights_sha1(teacher_ckpt)).encode()).hexdigest()
    return fingerprint


def train_and_test(name: str, config: str, seed: int, options: List[str], out: str,
                   epochs: int, reuse: Optional[List[dict]] = None) -> Dict[str, object]:
    """One run: train (resuming), evaluate, write ``metrics.json``.

    Skipped when its ``metrics.json`` exists, or when ``reuse`` (records of an earlier run of
    this benchmark, e.g. the committed results) holds this run with the same fingerprint.
    """
    work = osp.join(out, 'runs', f'{name}_seed{seed}')
    result_path = osp.join(work, 'metrics.json')
    cfg_options = [f'randomness.seed={seed}', *schedule_options(epochs), *options]
    teacher_ckpt = next((o.split('=', 1)[1] for o in cfg_options
                         if o.startswith('model.teacher_ckpt=')), None)
    fingerprint = run_fingerprint(config, cfg_options, teacher_ckpt)
    if osp.isfile(result_path):
        with open(result_path) as f:
            result = json.load(f)
        if result.get('fingerprint') != fingerprint:
            raise RuntimeError(f'{result_path} was made with another config, options or '
                               f'teacher; move {work} away or use another --out')
        return result
    for record in reuse or []:
        if (record['name'], record['seed'], record.get('fingerprint')) == (name, seed,
                                                                             fingerprint):
            print(f'[distill_gain] {name} seed {seed}: reusing the recorded result', flush=True)
            return record
    os.makedirs(work, exist_ok=True)
    log = osp.join(work, 'run.log')
    print(f'[distill_gain] {name} seed {seed}: training ({epochs} epochs), log {log}',
          flush=True)
    start = time.time()
    run_logged([sys.executable, 'tools/train.py', config, '--work-dir', work, '--resume',
                '--cfg-options', *cfg_options], log)
    train_s = time.time() - start
    ckpt = osp.join(work, f'epoch_{epochs}.pth')
    test_dir = osp.join(work, 'test')
    run_logged([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', test_dir,
                '--cfg-options', *cfg_options], log)
    metrics = read_nuscenes_metrics(test_dir)
    result = dict(name=name, seed=seed, config=config, options=cfg_options, checkpoint=ckpt,
                  fingerprint=fingerprint,
                  train_wall_s=round(train_s, 1),
                  metrics={k: v for k, v in metrics.items()
                           if k in METRICS or k.endswith('_AP_dist_2.0')})
    with atomic_path(result_path) as tmp, open(tmp, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'[distill_gain] {name} seed {seed}: mAP {metrics["mAP"]:.4f} NDS '
          f'{metrics["NDS"]:.4f} ({train_s / 60:.1f} min)', flush=True)
    return result


def summarise(runs: List[dict], epochs: int, seeds: List[int]) -> dict:
    """``{"models": {name: {metric: [per seed], "seeds": [...], "train_wall_s": [...]}}}``."""
    models: Dict[str, dict] = {}
    for run in runs:
        entry = models.setdefault(run['name'], dict(seeds=[], train_wall_s=[], config=run['config'],
                                                    options=run['options']))
        entry['seeds'].append(run['seed'])
        entry['train_wall_s'].append(run['train_wall_s'])
        for key, value in run['metrics'].items():
            entry.setdefault(key, []).append(value)
    return dict(benchmark='distill_gain', data='synthetic nuScenes v1.0-mini (mini_val)',
                epochs=epochs, seeds=seeds, models=models, runs=runs)


def mean_spread(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{statistics.mean(values):.4f} ± {max(values) - min(values):.4f}'


def markdown(summary: dict) -> str:
    lines = [f'Synthetic nuScenes `mini_val`, {summary["epochs"]} epochs, NuScenesMetric; '
             'mean ± spread (max − min over seeds).', '',
             '| model | seeds | ' + ' | '.join(METRICS) + ' | train min |',
             '|---|---|' + '---|' * len(METRICS) + '---|']
    for name, entry in summary['models'].items():
        cells = [mean_spread(entry[m]) if m in entry else '' for m in METRICS]
        wall = statistics.mean(entry['train_wall_s']) / 60
        lines.append(f'| {name} | {len(entry["seeds"])} | ' + ' | '.join(cells) +
                     f' | {wall:.0f} |')
    models = summary['models']
    if 'simdistill' in models and 'camera_baseline' in models:
        lines.append('')
        for metric in ('mAP', 'NDS'):
            gain = statistics.mean(models['simdistill'][metric]) - statistics.mean(
                models['camera_baseline'][metric])
            values = (models['simdistill'][metric], models['camera_baseline'][metric])
            if min(len(v) for v in values) < 2:
                spread_note = 'one seed of one of them: no spread measured, not a gain yet'
            else:
                spread = max(max(v) - min(v) for v in values)
                verdict = 'above' if gain > 2 * spread else 'not above'
                spread_note = (f'largest seed spread {100 * spread:.1f}: {verdict} twice the '
                               'spread')
            lines.append(f'- {metric} difference SimDistill − camera baseline: '
                         f'{100 * gain:+.1f} points ({spread_note})')
        if 'teacher' in models:
            gap = statistics.mean(models['teacher']['mAP']) - statistics.mean(
                models['camera_baseline']['mAP'])
            gain = statistics.mean(models['simdistill']['mAP']) - statistics.mean(
                models['camera_baseline']['mAP'])
            if gap > 0:
                lines.append(f'- share of the camera -> teacher mAP gap closed: '
                             f'{100 * gain / gap:.0f} %')
    return '\n'.join(lines) + '\n'


def write_tables(runs: List[dict], out: str, epochs: int, seeds: List[int]) -> None:
    summary = summarise(runs, epochs, seeds)
    with atomic_path(osp.join(out, 'distill_gain.json')) as tmp, open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
    with atomic_path(osp.join(out, 'distill_gain.md')) as tmp, open(tmp, 'w') as f:
        f.write(markdown(summary))


def plan(seeds: List[int], teacher_ckpt: str) -> List[tuple]:
    """``(name, config, seed, options)`` of every run, in the order they run: the comparison
    the table is about first (baseline and student, seed by seed), then the ablations, so a
    partial run is still informative."""
    distill = [f'model.teacher_ckpt={teacher_ckpt}']
    runs = [('teacher', TEACHER, seeds[0], [])]
    for seed in seeds:
        runs.append(('camera_baseline', BASELINE, seed, []))
        runs.append(('simdistill', DISTILLER, seed, distill))
    for name, (config, options) in ABLATIONS.items():
        runs.append((name, config, seeds[0], (distill if config == DISTILLER else []) + options))
    return runs


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--only', nargs='+', help='run only these model names')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra options for every run (e.g. data settings)')
    parser.add_argument('--reuse', help='a distill_gain.json whose runs count as done when '
                        'their fingerprint (config, options, teacher weights) matches')
    args = parser.parse_args(argv)
    reuse = []
    if args.reuse and osp.isfile(args.reuse):
        with open(args.reuse) as f:
            reuse = json.load(f).get('runs', [])
    out = osp.abspath(args.out)
    teacher_ckpt = osp.join(out, 'runs', f'teacher_seed{args.seeds[0]}',
                            f'epoch_{args.epochs}.pth')
    runs = []
    for name, config, seed, options in plan(args.seeds, teacher_ckpt):
        if args.only and name not in args.only:
            continue
        runs.append(train_and_test(name, config, seed, options + args.cfg_options, out,
                                   args.epochs, reuse))
        write_tables(runs, out, args.epochs, args.seeds)
    print(open(osp.join(out, 'distill_gain.md')).read())


if __name__ == '__main__':
    main()
