"""The distillation gain on the synthetic data: teacher, camera baseline, SimDistill, ablations.

    python tools/benchmarks/distill_gain.py --data-root data/nuscenes-bench   # resumable
    python tools/benchmarks/distill_gain.py --data-root ... --only teacher_lidar teacher
    python tools/benchmarks/distill_gain.py --seeds 0 --epochs 2 --out work_dirs/bench-smoke

The teacher is trained once, as BEVFusion trains it: LiDAR-only first (``--teacher-epochs``'s
first number), then LiDAR + camera from that model (``load_from``, the second number). Then, with
one fixed schedule (``--epochs``), the camera baseline and the SimDistill student with every seed
(paired: the same samples, order and augmentation draws, see ``IsolatedRandomCompose``) and, with
``--ablations``, one run (first seed) per ablation: each distillation term removed, and the
student trained without distillation. ``--levers`` adds, before the comparison, short
learning-curve runs of the camera baseline (first seed, ``--lever-epochs``, evaluated at half
and full schedule) with each camera lever of ``LEVERS`` and without (``lever_reference``).
Each run is ``tools/train.py`` (``--resume``) then ``tools/test.py`` (``NuScenesMetric``, the
devkit, its predictions file kept) in its own work folder, plus the depth metric of the
camera models (``depth_accuracy.py``) and, with ``--curve-epochs``, the same evaluation of
earlier checkpoints (learning curves). A run whose
``metrics.json`` exists is skipped and a killed training resumes from its last checkpoint, so
re-running the command continues where it stopped.

Every model is tested with ``--score-threshold`` (default 0.001 instead of the configs' 0.1; the
head's per-task budget of 83 boxes, 498 per sample, below the devkit's 500, is then the cut that
matters) so that the camera models' low-score recall counts. (0 exactly trips mmdet3d 1.4's
CenterHead, which then squeezes a single candidate to a 0-d tensor.)
After every run the tables are rewritten (atomically): ``<out>/distill_gain.json`` (per model and
metric one value per seed in seed order, 95 % bootstrap intervals over test scenes and seeds, the
paired student - baseline difference, the test set's size) and ``<out>/distill_gain.md``.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
from simdistill.utils.atomic import (atomic_path, write_json_atomic,  # noqa: E402
                                     write_text_atomic)
from simdistill.evaluation.metric_logs import read_nuscenes_metrics  # noqa: E402
from simdistill.datasets.release_options import release_cfg_options  # noqa: E402
from simdistill.evaluation.bootstrap import ReplicateStore  # noqa: E402
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from recipes import (BASELINE, CAMERA_RECIPE, DISTILLER, LEVERS,  # noqa: E402
                     LIDAR_ONLY, SCORE_THRESHOLD, STUDENT, TEACHER, TEACHER_RECIPE,
                     camera_model_key, recipe_for, resolved_config, schedule, test_options)

METRICS = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')
DEPTH_METRICS = ('depth_within_1m', 'depth_within_3m', 'sim_lidar_depth_within_1m',
                 'sim_lidar_depth_within_3m')
INTERVAL_METRICS = ('mAP', 'NDS', 'car_AP')
TEACHER_RUNS = ('teacher_lidar', 'teacher')  # trained once, reused by every later run
CAMERA_MODELS = ('camera_baseline', 'simdistill')
# issue 19's goal for SimDistill - camera baseline: a mAP gain of at least GOAL_MAP with the
# interval's lower bound above 0, closing at least GOAL_GAP_SHARE of the camera -> teacher gap
GOAL_MAP = 0.03
GOAL_GAP_SHARE = 0.25
# ablation name -> (config, extra --cfg-options); each removes one distillation term
ABLATIONS = {
    'student_without_distillation': (STUDENT, []),
    'no_distill_camera': (DISTILLER, ['model.loss_distill_camera=None']),
    'no_distill_lidar': (DISTILLER, ['model.loss_distill_lidar=None',
                                     'model.lidar_adapter=None']),
    'no_distill_fused': (DISTILLER, ['model.loss_distill_fused=None']),
    'no_distill_prediction': (DISTILLER, ['model.loss_distill_heatmap=None',
                                          'model.loss_distill_reg=None']),
    # the distiller's options beyond the release (issue 19 section 4): the feature terms are
    # 1/450-1/25000 of the detection gradient at the BEV maps (docs/results.md), so the
    # normalisations that make them act are measured beside the paper's
    'lidar_term_over_mask': (DISTILLER, ['model.masked_average=mask_sum']),
    'heatmap_kd_over_positives': (DISTILLER, ['model.heatmap_average=teacher_positive']),
    'decoder_head_from_teacher': (DISTILLER, [
        "model.init_student_from_teacher=('pts_backbone','pts_neck','bbox_head')"]),
}
# <out>/REPLICATES: each test evaluation's scores on the bootstrap's scene draws, kept across
# invocations (carried between sessions with the runs) so that a restart does not re-score
REPLICATES = 'bootstrap_replicates'
# Hooks added to the comparison's and the ablations' training: per-term gradient norms at the
# BEV maps and the total norm against the clip, every 50 iterations (about 2 % more time).
DIAGNOSTIC_HOOKS = (dict(type='GradientDiagnosticsHook', interval=50), )


def schedule_options(epochs: int) -> List[str]:
    """The schedule of a run: every epoch's checkpoint kept until the learning curve has been
    evaluated (the configs keep 2), then pruned by :func:`prune_checkpoints`."""
    return schedule(epochs, val_interval=epochs) + [
        'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=-1']


def prune_checkpoints(work: str, keep_epochs: Sequence[int]) -> None:
    """Deletes a finished run's ``epoch_*.pth`` but those of ``keep_epochs``."""
    for path in glob.glob(osp.join(work, 'epoch_*.pth')):
        epoch = osp.basename(path)[len('epoch_'):-len('.pth')]
        if epoch.isdigit() and int(epoch) not in keep_epochs:
            os.remove(path)

# Config keys (dotted) that cannot change what a run trains or scores (which modules are
# imported, e.g. the stack shims' module, where outputs go, how many checkpoints are kept): a
# benchmark spanning sessions survives them.
NOT_IN_CONFIG_FINGERPRINT = ('custom_imports', 'work_dir',
                             'default_hooks.checkpoint.max_keep_ckpts')


def config_fingerprint(config: str, cfg_options: List[str]) -> str:
    """sha1 of the resolved config (bases merged) with the run's options applied, less
    :data:`NOT_IN_CONFIG_FINGERPRINT`."""
    from mmengine.config import Config
    cfg = resolved_config(config, cfg_options).to_dict()
    for key in NOT_IN_CONFIG_FINGERPRINT:
        *parents, leaf = key.split('.')
        node = cfg
        for parent in parents:
            node = node.get(parent, {})
        node.pop(leaf, None)
    return hashlib.sha1(Config(cfg).pretty_text.encode()).hexdigest()


def config_with_hooks(config: str, hooks: Sequence[dict], folder: str) -> str:
    """``<folder>/config/<name of config>``: ``config`` with ``hooks`` appended to its
    ``custom_hooks`` (a list of dicts, which ``--cfg-options`` cannot extend). Its own folder,
    as the runner writes its resolved config into the work folder under the same name."""
    base = resolved_config(config, []).to_dict().get('custom_hooks', [])
    text = (f'_base_ = [{osp.join(ROOT, config)!r}]\n'
            f'custom_hooks = {[*base, *hooks]!r}\n')
    path = osp.join(folder, 'config', osp.basename(config))
    if not osp.isfile(path) or Path(path).read_text() != text:
        write_text_atomic(path, text)  # makes the folder
    return path


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
    from simdistill.checkpoint.loading import load_checkpoint_file
    from simdistill.checkpoint.state_dicts import plain_state_dict
    state = plain_state_dict(load_checkpoint_file(checkpoint, map_location='cpu'), checkpoint)
    digest = hashlib.sha1()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


CODE_DIR = osp.join(ROOT, 'projects', 'SimDistill', 'simdistill')
CODE_SUFFIXES = ('.py', '.cpp', '.cu', '.h')
# Plugin folders that cannot change what a run trains or scores: ONNX export, checkpoint
# converters, pictures, test helpers. Left out of a run's recorded code, so only work on the
# code a run executes makes the table report several code versions. (The data generator is a
# package of its own; the data count by their info files, data_fingerprint.)
CODE_NOT_IN_RUNS = ('deployment', 'model_conversion', 'visualization', 'testing')


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


def run_fingerprint(config: str, cfg_options: List[str], teacher_ckpt: Optional[str],
                    code: str = '') -> str:
    """What identifies a run: the resolved config with its options, the info files and, for a
    distiller, the teacher's weights (not the path they were read from). The plugin's code is
    recorded beside it (``code`` of each result, :func:`code_fingerprint`), not in it: a
    benchmark spans sessions in which the code moves on, and a finished run stays what it was
    (the table names the code versions its runs were made by). ``code``: a code fingerprint to
    include, as runs recorded before this rule had it."""
    options = [o for o in cfg_options if not o.startswith(('model.teacher_ckpt=', 'load_from='))]
    fingerprint = hashlib.sha1((config_fingerprint(config, options) + code +
                                data_fingerprint(config, options)).encode()).hexdigest()
    for ckpt in (teacher_ckpt, option_value(cfg_options, 'load_from')):
        if ckpt:
            fingerprint = hashlib.sha1(
                (fingerprint + teacher_weights_sha1(ckpt)).encode()).hexdigest()
    return fingerprint


def option_value(cfg_options: List[str], key: str) -> Optional[str]:
    """The value of ``key=...`` among ``--cfg-options``, or None."""
    return next((o.split('=', 1)[1] for o in cfg_options if o.startswith(f'{key}=')), None)


def release_version(data_root: str) -> str:
    """The release's version: the one ``v1.0-*`` table folder in ``data_root``."""
    versions = sorted(d for d in os.listdir(data_root) if d.startswith('v1.0-')
                      and osp.isdir(osp.join(data_root, d)))
    if len(versions) != 1:
        raise ValueError(f'{data_root}: expected one v1.0-* table folder, found {versions}')
    return versions[0]


def pretrain_options(config: str, checkpoint: str) -> List[str]:
    """``--cfg-options`` starting a model's image backbone and neck (the student's, in a
    distiller) from ``checkpoint``; none for a model without images."""
    model = resolved_config(config, []).model
    prefix = camera_model_key(config)
    if (model.get('student') or model).get('img_backbone') is None:
        return []
    return [f'{prefix}.{part}.init_cfg.checkpoint={checkpoint}'
            for part in ('img_backbone', 'img_neck')]


def pretrain_image_backbone(out: str, data: List[str], epochs: int) -> str:
    """The image backbone + neck pre-trained on the benchmark's own training split (once;
    ``tools/pretrain_image_backbone.py``), which every camera branch starts from."""
    path = osp.join(out, 'pretrain', 'image_backbone.pth')
    if not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        print(f'[distill_gain] pre-training the image backbone ({epochs} epochs)', flush=True)
        options = [o for o in data if o.startswith('train_dataloader.dataset.')]
        run_logged([sys.executable, 'tools/pretrain_image_backbone.py', BASELINE, '--out', path,
                    '--epochs', str(epochs), '--cfg-options', *options],
                   osp.join(out, 'pretrain', 'run.log'))
    return path


def results_file(test_dir: str) -> str:
    """Where ``NuScenesMetric`` (``jsonfile_prefix=<test_dir>/results``) writes predictions."""
    return osp.join(test_dir, 'results', 'pred_instances_3d', 'results_nusc.json')


def evaluate(config: str, ckpt: str, test_dir: str, cfg_options: List[str], log: str,
             depth: bool) -> Dict[str, float]:
    """Devkit metrics (and, for a camera model, the depth metric) of one checkpoint."""
    run_logged([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', test_dir,
                '--cfg-options', *cfg_options,
                f'test_evaluator.jsonfile_prefix={osp.join(test_dir, "results")}'], log)
    metrics = {k: v for k, v in read_nuscenes_metrics(test_dir).items()
               if k in METRICS or '_AP_dist_' in k}
    metrics['car_AP'] = statistics.mean(v for k, v in metrics.items()
                                        if k.startswith('car_AP_dist_'))
    if depth:
        depth_json = osp.join(test_dir, 'depth.json')
        run_logged([sys.executable, 'tools/benchmarks/depth_accuracy.py', config, ckpt,
                    '--out', depth_json, '--cfg-options', *cfg_options], log)
        with open(depth_json) as f:
            metrics.update(json.load(f))
    return metrics


# mmengine's log of each training session of a run (a resumed run has one per session),
# relative to the run's folder
TRAINING_LOGS = '[0-9]*_[0-9]*/[0-9]*_[0-9]*.log'
LOG_TIME_FORMAT = '%Y/%m/%d %H:%M:%S'


def training_wall_seconds(work: str) -> float:
    """Seconds the training sessions logged under ``work`` ran: per session, from its log's
    first to its last timestamped line (a killed session counts until its last record), summed.
    """
    total = 0.0
    for log in sorted(glob.glob(osp.join(work, TRAINING_LOGS))):
        stamps = []
        with open(log, errors='replace') as f:
            for line in f:
                try:
                    stamps.append(time.mktime(time.strptime(line[:19], LOG_TIME_FORMAT)))
                except ValueError:  # a continuation line of a multi-line record
                    continue
        if stamps:
            total += stamps[-1] - stamps[0]
    return total


def run_dir(out: str, name: str, seed: int) -> str:
    """A run's work folder under the benchmark's ``--out``."""
    return osp.join(out, 'runs', f'{name}_seed{seed}')


def record_path(out: str, name: str, seed: int) -> str:
    """A run's record, written when it has trained and been evaluated."""
    return osp.join(run_dir(out, name, seed), 'metrics.json')


def finished(out: str, name: str, seed: int) -> bool:
    """Whether the run has its record already."""
    return osp.isfile(record_path(out, name, seed))


def train_and_test(name: str, config: str, seed: int, options: List[str], out: str,
                   epochs: int, reuse: Optional[List[dict]] = None,
                   test_cfg_options: Optional[List[str]] = None,
                   curve_epochs: Sequence[int] = (), depth: bool = False,
                   hooks: Sequence[dict] = ()) -> Dict[str, object]:
    """One run: train (resuming), evaluate (and its learning curve), write ``metrics.json``.

    Skipped when its ``metrics.json`` exists, or when ``reuse`` (records of an earlier run of
    this benchmark, e.g. the committed results) holds this run with the same fingerprint.

    Args:
        options: the run's ``--cfg-options`` (data, model changes); the seed and schedule are
            added here.
        test_cfg_options: extra ``--cfg-options`` of the evaluations only.
        curve_epochs: earlier epochs whose checkpoints are evaluated too (learning curve).
        depth: also measure the depth metric (camera models).
        hooks: added to the training's ``custom_hooks`` (:func:`config_with_hooks`); a
            ``GradientDiagnosticsHook``'s log is summarised into the result's ``gradients``.
    """
    work = run_dir(out, name, seed)
    if hooks:
        config = config_with_hooks(config, hooks, work)
    result_path = record_path(out, name, seed)
    cfg_options = [f'randomness.seed={seed}', *schedule_options(epochs), *options]
    teacher_ckpt = option_value(cfg_options, 'model.teacher_ckpt')
    fingerprint = run_fingerprint(config, cfg_options, teacher_ckpt)
    if osp.isfile(result_path):
        with open(result_path) as f:
            recorded = json.load(f)
        result = dict(recorded)
        if result.get('fingerprint') != fingerprint:
            recorded_with_code = run_fingerprint(config, cfg_options, teacher_ckpt,
                                                 code=result.get('code', ''))
            if result.get('fingerprint') != recorded_with_code:
                raise RuntimeError(f'{result_path} was made with another config, options or '
                                   f'teacher; move {work} away or use another --out')
            result['fingerprint'] = fingerprint  # recorded under the rule that included code
        logged_s = training_wall_seconds(work)
        if logged_s > result.get('train_wall_s', 0):
            # a resumed run recorded by code that timed its last session only
            result['train_wall_s'] = round(logged_s, 1)
        if result != recorded:
            write_json_atomic(result_path, result)
        if result.get('code') != code_fingerprint():
            print(f'[distill_gain] {name} seed {seed}: finished by an earlier version of the '
                  f'plugin code ({str(result.get("code"))[:12]}), kept', flush=True)
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
    earlier_s = training_wall_seconds(work)  # the sessions of a resumed run before this one
    start = time.time()
    run_logged([sys.executable, 'tools/train.py', config, '--work-dir', work, '--resume',
                '--cfg-options', *cfg_options], log)
    train_s = earlier_s + time.time() - start
    eval_options = cfg_options + list(test_cfg_options or [])
    curve = []
    for epoch in sorted(set(curve_epochs) | {epochs}):
        metrics = evaluate(config, osp.join(work, f'epoch_{epoch}.pth'),
                           osp.join(work, f'test_epoch{epoch}'), eval_options, log, depth)
        curve.append(dict(epoch=epoch, **metrics))
        print(f'[distill_gain] {name} seed {seed} epoch {epoch}: mAP {metrics["mAP"]:.4f} NDS '
              f'{metrics["NDS"]:.4f}', flush=True)
    result = dict(name=name, seed=seed, config=config, options=cfg_options,
                  test_options=list(test_cfg_options or []),
                  checkpoint=osp.join(work, f'epoch_{epochs}.pth'),
                  results=results_file(osp.join(work, f'test_epoch{epochs}')),
                  fingerprint=fingerprint, code=code_fingerprint(),
                  train_wall_s=round(train_s, 1), metrics=curve[-1], curve=curve)
    result['metrics'] = {k: v for k, v in result['metrics'].items() if k != 'epoch'}
    from simdistill.engine.gradient_diagnostics import LOG_NAME, summarise_gradient_log
    if osp.isfile(osp.join(work, LOG_NAME)):
        result['gradients'] = summarise_gradient_log(osp.join(work, LOG_NAME))
    write_json_atomic(result_path, result)
    prune_checkpoints(work, set(curve_epochs) | {epochs})
    print(f'[distill_gain] {name} seed {seed}: done ({train_s / 60:.1f} min training)',
          flush=True)
    return result


def summarise(runs: List[dict], epochs: int, seeds: List[int]) -> dict:
    """``{"models": {name: {metric: [per seed], "seeds": [...], "train_wall_s": [...]}}}``."""
    models: Dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: r['seed']):
        entry = models.setdefault(run['name'], dict(seeds=[], train_wall_s=[], config=run['config'],
                                                    options=run['options']))
        entry['seeds'].append(run['seed'])
        entry['train_wall_s'].append(run['train_wall_s'])
        for key, value in run['metrics'].items():
            entry.setdefault(key, []).append(value)
    return dict(benchmark='distill_gain', epochs=epochs, seeds=seeds, models=models, runs=runs)


def scene_bootstraps(runs: List[dict], data_root: str, version: str,
                     cache: Dict[str, object]) -> Dict[str, list]:
    """Per model, per seed (in seed order) the :class:`SceneBootstrap` of its final test.

    ``cache`` keeps the devkit's tables and each run's bootstrap (its matching is the costly
    part) across the calls of one benchmark invocation, which rewrites the tables after every
    run. Each bootstrap is keyed by its prediction file's sha1 (its scores on the scene draws
    are kept on disk, :class:`ReplicateStore`).
    """
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval
    from simdistill.datasets.nuscenes_stats import VERSION_SPLITS
    from simdistill.evaluation import SceneBootstrap
    if 'nusc' not in cache:
        cache['nusc'] = NuScenes(version, data_root, verbose=False)
    eval_set = VERSION_SPLITS[version][-1]  # mini_val or val
    out: Dict[str, list] = {}
    for run in sorted(runs, key=lambda r: r['seed']):
        if run['results'] not in cache:
            with open(run['results'], 'rb') as f:
                key = hashlib.sha1(f.read()).hexdigest()
            cache[run['results']] = SceneBootstrap(DetectionEval(
                cache['nusc'], config_factory('detection_cvpr_2019'), run['results'], eval_set,
                osp.join(osp.dirname(run['results']), 'bootstrap'), verbose=False), key=key)
        out.setdefault(run['name'], []).append(cache[run['results']])
    return out


def paired_difference(summary: dict, boots: Dict[str, list], model: str, reference: str,
                      replicates: int, cache: Optional[dict] = None) -> Tuple[dict, dict]:
    """``model - reference`` over the seeds both have (a model may be a seed ahead while the
    benchmark runs, an ablation has the first seed only): per seed, mean and the 95 % interval
    of the paired bootstrap (test scenes and seeds resampled together).

    Returns:
        tuple: ``({'seeds': [...], metric: {'per_seed', 'mean', 'interval'}}, replicates)``,
        the latter name -> metric -> ``(replicates,)`` means over the common seeds.
    """
    from simdistill.evaluation import percentile_interval, seed_and_scene_replicates
    models = summary['models']
    pair = (model, reference)
    common = sorted(set(models[model]['seeds']) & set(models[reference]['seeds']))
    slots = {n: [models[n]['seeds'].index(k) for k in common] for n in pair}
    paired = seed_and_scene_replicates({n: [boots[n][i] for i in slots[n]] for n in pair},
                                       INTERVAL_METRICS, replicates, cache=cache)
    out = {'seeds': common}
    for m in INTERVAL_METRICS:
        diffs = [models[model][m][i] - models[reference][m][j]
                 for i, j in zip(slots[model], slots[reference])]
        out[m] = dict(per_seed=diffs, mean=statistics.mean(diffs),
                      interval=percentile_interval(paired[model][m] - paired[reference][m]))
    return out, paired


def add_intervals(summary: dict, boots: Dict[str, list], replicates: int,
                  cache: Optional[dict] = None) -> dict:
    """95 % intervals (percentile bootstrap over test scenes and seeds, seeds paired) of each
    model's mean, of the paired difference SimDistill - camera baseline and the share of the
    camera -> teacher gap it closes (``comparison``), and of each ablation's paired difference
    to SimDistill and to the baseline (``ablations``)."""
    from simdistill.evaluation import percentile_interval, seed_and_scene_replicates
    reps = seed_and_scene_replicates(boots, INTERVAL_METRICS, replicates, cache=cache)
    for name, per_metric in reps.items():
        summary['models'][name]['intervals'] = {m: percentile_interval(v)
                                                for m, v in per_metric.items()}
    summary['bootstrap'] = dict(replicates=replicates, level=0.95,
                                unit='test scenes (and seeds, paired)')
    if all(n in reps for n in CAMERA_MODELS):
        comparison, paired = paired_difference(summary, boots, 'simdistill', 'camera_baseline',
                                               replicates, cache)
        if 'teacher' in reps:
            models = summary['models']
            gap = reps['teacher']['mAP'] - paired['camera_baseline']['mAP']
            gain = paired['simdistill']['mAP'] - paired['camera_baseline']['mAP']
            mean_gap = statistics.mean(models['teacher']['mAP']) - statistics.mean(
                models['camera_baseline']['mAP'][models['camera_baseline']['seeds'].index(k)]
                for k in comparison['seeds'])
            comparison['gap_closed'] = dict(  # None: the teacher is not above the baseline
                mean=comparison['mAP']['mean'] / mean_gap if mean_gap > 0 else None,
                interval=percentile_interval(np.where(gap > 0, gain / np.where(
                    gap > 0, gap, 1), np.nan)))
        comparison['goal'] = goal_verdict(comparison)
        summary['comparison'] = comparison
    ablations = {
        name: {ref: paired_difference(summary, boots, name, ref, replicates, cache)[0]
               for ref in CAMERA_MODELS if ref in reps}
        for name in ABLATIONS if name in reps}
    if ablations:
        summary['ablations'] = ablations
    return summary


def goal_verdict(comparison: dict) -> dict:
    """Whether the paired comparison meets the goal (:data:`GOAL_MAP` mAP with the interval
    above 0 and :data:`GOAL_GAP_SHARE` of the gap closed) and whether its mAP interval rules a
    gain of :data:`GOAL_MAP` out (upper bound below it): ``{'map_goal', 'gap_share_goal',
    'met', 'excluded'}``."""
    m_ap = comparison['mAP']
    gap = (comparison.get('gap_closed') or {}).get('mean')
    met = (m_ap['mean'] >= GOAL_MAP and m_ap['interval'][0] > 0 and gap is not None
           and gap >= GOAL_GAP_SHARE)
    return dict(map_goal=GOAL_MAP, gap_share_goal=GOAL_GAP_SHARE, met=bool(met),
                excluded=bool(m_ap['interval'][1] < GOAL_MAP))


def goal_line(comparison: dict) -> str:
    """The markdown line stating :func:`goal_verdict`."""
    verdict = goal_verdict(comparison)
    upper = 100 * comparison['mAP']['interval'][1]
    goal = (f'goal (≥ {100 * GOAL_MAP:+.1f} mAP points with the interval above 0, '
            f'≥ {100 * GOAL_GAP_SHARE:.0f} % of the gap closed)')
    if verdict['met']:
        return f'- {goal}: met'
    if verdict['excluded']:
        return (f'- {goal}: not met; the interval\'s upper bound ({upper:+.1f}) rules out a '
                f'{100 * GOAL_MAP:+.1f}-point gain')
    return (f'- {goal}: not met; a {100 * GOAL_MAP:+.1f}-point gain is inside the interval '
            '(not decided)')


def test_set_size(data_root: str, version: str) -> dict:
    """``scenes``, ``samples`` and ``objects`` (physical objects, each counted once) of the
    evaluation split, and ``objects_per_class``."""
    from simdistill.datasets.nuscenes_stats import read_release_stats
    test = read_release_stats(data_root, version)[-1]  # (train, val) or (mini_train, mini_val)
    return dict(split=test.split, scenes=test.scenes, samples=test.samples,
                objects=test.total_objects, objects_per_class=dict(test.objects))


def mean_spread(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{statistics.mean(values):.4f} ± {max(values) - min(values):.4f}'


def with_interval(entry: dict, metric: str) -> str:
    """``mean [low, high]`` (the 95 % interval, when computed) and the per-seed values."""
    values = entry[metric]
    text = f'{statistics.mean(values):.4f}'
    interval = entry.get('intervals', {}).get(metric)
    if interval:
        text += f' [{interval[0]:.4f}, {interval[1]:.4f}]'
    if len(values) > 1:
        text += ' (' + ', '.join(f'{v:.4f}' for v in values) + ')'
    return text


def gradient_lines(runs: List[dict]) -> List[str]:
    """The gradient diagnostics of the runs that have them (:data:`DIAGNOSTIC_HOOKS`): medians
    over the diagnosed steps of the total norm before clipping, the share of steps clipped, the
    factor the clip scaled a step by, and per BEV map the detection term's gradient norm beside
    all terms' (a distiller's; the detection term alone is all a baseline has)."""
    rows = [r for r in runs if r.get('gradients')]
    if not rows:
        return []
    lines = ['', 'Gradient diagnostics (median over the diagnosed steps; norms at a BEV map: '
             'detection term / all terms):', '',
             '| model | seed | steps | total norm | clipped | clip factor | camera BEV | '
             'simulated-LiDAR BEV | fused BEV |', '|---|---|---|---|---|---|---|---|---|']
    for run in rows:
        g = run['gradients']
        cells = []
        for bev in ('camera_bev', 'sim_lidar_bev', 'fused_bev'):
            det = g.get(f'gradnorm.{bev}.detection')
            total = g.get(f'gradnorm.{bev}.total', det)
            cells.append('' if det is None else f'{det:.3g} / {total:.3g}')
        stats = [f'{g[k]:.3g}' if k in g else '' for k in ('grad_norm', 'clipped_share',
                                                             'clip_factor')]
        lines.append(f'| {run["name"]} | {run["seed"]} | {g["steps"]} | ' + ' | '.join(
            stats + cells) + ' |')
    return lines


def markdown(summary: dict) -> str:
    size = summary.get('test_set')
    data = (f'{size["scenes"]} test scenes, {size["samples"]} samples, {size["objects"]} '
            'physical objects' if size else summary.get('data', 'the test split'))
    lines = [f'Devkit metrics on {data}; {summary["epochs"]} epochs; mean over seeds, its 95 % '
             'bootstrap interval over test scenes and seeds in brackets, per-seed values in '
             'parentheses.', '',
             '| model | seeds | mAP | NDS | car AP | depth ±1 m | depth ±3 m | train min |',
             '|---|---|---|---|---|---|---|---|']
    for name, entry in summary['models'].items():
        cells = [with_interval(entry, m) if m in entry else '' for m in INTERVAL_METRICS]
        cells += [f'{statistics.mean(entry[m]):.3f}' if m in entry else ''
                  for m in DEPTH_METRICS[:2]]
        wall = statistics.mean(entry['train_wall_s']) / 60
        lines.append(f'| {name} | {len(entry["seeds"])} | ' + ' | '.join(cells) +
                     f' | {wall:.0f} |')
    lines += gradient_lines(summary.get('runs', []))
    codes = {run.get('code') for run in summary.get('runs', []) if run['name'] not in TEACHER_RUNS}
    if len(codes) > 1:
        lines += ['', f'- the camera runs were made by {len(codes)} versions of the plugin code '
                  '(each run\'s `code` in the JSON; the fingerprint leaves code out)']
    comparison = summary.get('comparison')
    models = summary['models']
    if comparison:
        lines.append('')
        pairs = (f'seeds {", ".join(map(str, comparison["seeds"]))}' if 'seeds' in comparison
                 else 'seeds')
        for metric in INTERVAL_METRICS:
            c = comparison[metric]
            lines.append(f'- {metric} difference SimDistill − camera baseline (paired {pairs}): '
                         f'{100 * c["mean"]:+.1f} points, 95 % interval '
                         f'[{100 * c["interval"][0]:+.1f}, {100 * c["interval"][1]:+.1f}]')
        if comparison.get('gap_closed', {}).get('mean') is not None:
            g = comparison['gap_closed']
            lines.append(f'- share of the camera -> teacher mAP gap closed: {100 * g["mean"]:.0f} %'
                         f' [{100 * g["interval"][0]:.0f}, {100 * g["interval"][1]:.0f}]')
        lines.append(goal_line(comparison))
    elif 'simdistill' in models and 'camera_baseline' in models:
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
    lines += ablation_lines(summary.get('ablations', {}))
    return '\n'.join(lines) + '\n'


REFERENCE_NAMES = {'simdistill': 'SimDistill', 'camera_baseline': 'the camera baseline'}


def ablation_lines(ablations: Dict[str, dict]) -> List[str]:
    """One line per ablation and reference model: the paired mAP / NDS / car AP differences
    (points) with their 95 % intervals."""
    lines = []
    for name, against in ablations.items():
        for ref, diff in against.items():
            cells = ', '.join(
                f'{m} {100 * diff[m]["mean"]:+.1f} [{100 * diff[m]["interval"][0]:+.1f}, '
                f'{100 * diff[m]["interval"][1]:+.1f}]' for m in INTERVAL_METRICS)
            seeds = ', '.join(map(str, diff['seeds']))
            lines.append(f'- {name} − {REFERENCE_NAMES[ref]} (paired seeds {seeds}), points: '
                         f'{cells}')
    return [''] + lines if lines else []


def write_tables(summary: dict, out: str) -> None:
    """``<out>/distill_gain.{json,md}`` and two pictures: the learning curves of the comparison
    (and the teacher, the ablations) ``<out>/learning_curves.png`` and, when there are lever
    runs, theirs apart, ``<out>/lever_curves.png``."""
    from simdistill.visualization.benchmark import save_learning_curves
    write_json_atomic(osp.join(out, 'distill_gain.json'), summary)
    write_text_atomic(osp.join(out, 'distill_gain.md'), markdown(summary))
    size = summary.get('test_set') or {}
    test_set = f'test set of {size.get("objects", "?")} objects, {size.get("scenes", "?")} scenes'
    levers = [r for r in summary['runs'] if r['name'] in LEVERS]
    with atomic_path(osp.join(out, 'learning_curves.png')) as tmp:
        save_learning_curves(tmp, [r for r in summary['runs'] if r['name'] not in LEVERS],
                             f'distill_gain: {test_set}')
    if levers:
        with atomic_path(osp.join(out, 'lever_curves.png')) as tmp:
            save_learning_curves(tmp, levers, f'Camera-baseline levers: seed '
                                 f'{levers[0]["seed"]}, {test_set}')


def plan(seeds: List[int], teacher_ckpt: str, lidar_ckpt: Optional[str] = None,
         ablations: bool = True, levers: bool = False) -> List[tuple]:
    """``(name, config, seed, options)`` of every run, in the order they run: the teacher's two
    stages (the fusion stage starting from the LiDAR-only model), with ``levers`` the camera
    lever runs (first seed), the comparison the table is about (baseline and student, seed by
    seed), then the ablations, so a partial run is still informative. Every run with an image
    branch after the lever runs uses :data:`CAMERA_RECIPE`, the teacher :data:`TEACHER_RECIPE`."""
    distill = [f'model.teacher_ckpt={teacher_ckpt}']
    runs = []
    if lidar_ckpt:
        runs.append(('teacher_lidar', LIDAR_ONLY, seeds[0], []))
    runs.append(('teacher', TEACHER, seeds[0],
                 ([f'load_from={lidar_ckpt}'] if lidar_ckpt else []) + TEACHER_RECIPE))
    if levers:
        runs += [(name, BASELINE, seeds[0], list(options)) for name, options in LEVERS.items()]
    for seed in seeds:
        runs.append(('camera_baseline', BASELINE, seed, recipe_for(BASELINE, CAMERA_RECIPE)))
        runs.append(('simdistill', DISTILLER, seed, distill + recipe_for(DISTILLER,
                                                                          CAMERA_RECIPE)))
    if ablations:
        for name, (config, options) in ABLATIONS.items():
            runs.append((name, config, seeds[0],
                         (distill if config == DISTILLER else []) +
                         recipe_for(config, CAMERA_RECIPE) + options))
    return runs


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/benchmarks')
    parser.add_argument('--data-root', default='data/nuscenes',
                        help='a release with its info files (tools/create_data.py)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3])
    parser.add_argument('--epochs', type=int, default=12, help='camera models and ablations')
    parser.add_argument('--teacher-epochs', type=int, nargs=2, default=[20, 6],
                        metavar=('LIDAR_ONLY', 'FUSION'))
    parser.add_argument('--curve-epochs', type=int, nargs='*', default=[],
                        help='earlier checkpoints of the camera models to evaluate too')
    parser.add_argument('--pretrain-epochs', type=int, default=8,
                        help='image backbone pre-training on the training split')
    parser.add_argument('--score-threshold', type=float, default=SCORE_THRESHOLD)
    parser.add_argument('--ablations', action='store_true')
    parser.add_argument('--levers', action='store_true',
                        help='the camera lever runs (LEVERS) before the comparison')
    parser.add_argument('--lever-epochs', type=int, default=4,
                        help='the lever runs\' schedule (also evaluated at half of it)')
    parser.add_argument('--replicates', type=int, default=1000, help='bootstrap resamples')
    parser.add_argument('--only', nargs='+', help='run only these model names')
    parser.add_argument('--tables-only', action='store_true',
                        help='train nothing: rewrite the tables from the finished runs')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra options for every run')
    parser.add_argument('--reuse', help='a distill_gain.json whose runs count as done when '
                        'their fingerprint (config, options, teacher weights) matches')
    args = parser.parse_args(argv)
    reuse = []
    if args.reuse and osp.isfile(args.reuse):
        with open(args.reuse) as f:
            reuse = json.load(f).get('runs', [])
    out = osp.abspath(args.out)
    data_root = osp.abspath(args.data_root)
    version = release_version(data_root)
    data = release_cfg_options(data_root, version)
    lidar_epochs, fusion_epochs = args.teacher_epochs
    lidar_ckpt = osp.join(run_dir(out, 'teacher_lidar', args.seeds[0]),
                          f'epoch_{lidar_epochs}.pth')
    teacher_ckpt = osp.join(run_dir(out, 'teacher', args.seeds[0]), f'epoch_{fusion_epochs}.pth')
    runs, boots = [], {}
    planned = [r for r in plan(args.seeds, teacher_ckpt, lidar_ckpt, args.ablations, args.levers)
               if (not args.only or r[0] in args.only) and
               not (args.tables_only and not finished(out, r[0], r[2]))]
    # the tables (their bootstrap is the costly part) are rewritten after a run that trains,
    # before the first that will and after the last, not after each run found finished
    pending = [not finished(out, name, seed) for name, _, seed, _ in planned] + [True]
    for index, (name, config, seed, options) in enumerate(planned):
        rewrite = pending[index] or pending[index + 1]
        if pretrain_options(config, ''):  # a camera branch: pre-train first (once)
            pretrained = pretrain_image_backbone(out, data, args.pretrain_epochs)
            options = pretrain_options(config, pretrained) + [
                o.replace('{pretrained}', pretrained) for o in options]
        epochs = {'teacher_lidar': lidar_epochs, 'teacher': fusion_epochs}.get(name, args.epochs)
        curve = args.curve_epochs if name in CAMERA_MODELS else ()
        if name in LEVERS:
            epochs, curve = args.lever_epochs, (args.lever_epochs // 2, )
        camera = name not in TEACHER_RUNS
        hooks = DIAGNOSTIC_HOOKS if name in CAMERA_MODELS or name in ABLATIONS else ()
        runs.append(train_and_test(name, config, seed, data + options + args.cfg_options, out,
                                   epochs, reuse, test_options(config, args.score_threshold),
                                   curve, depth=camera, hooks=hooks))
        if not rewrite:
            continue
        summary = summarise(runs, args.epochs, args.seeds)
        summary.update(data=dict(root=data_root, version=version),
                       teacher_epochs=args.teacher_epochs, score_threshold=args.score_threshold,
                       test_set=test_set_size(data_root, version))
        write_tables(add_intervals(summary, scene_bootstraps(runs, data_root, version, boots),
                                   args.replicates, cache=boots.setdefault(
                                       'replicates', ReplicateStore(osp.join(out, REPLICATES)))),
                     out)
    print(open(osp.join(out, 'distill_gain.md')).read())


if __name__ == '__main__':
    main()
