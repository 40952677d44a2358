"""Can a model learn at all? It trains on a handful of samples and is scored on the same ones.

    python tools/benchmarks/overfit_check.py                       # camera-only vs LiDAR-only
    python tools/benchmarks/overfit_check.py --configs CONFIG ... --epochs 60
    python tools/benchmarks/overfit_check.py --augmentations none bev image all --epochs 100

A small synthetic nuScenes (``--samples-per-scene`` key frames per scene, default 4) is
generated under ``<out>/data/nuscenes``; each config trains on its ``mini_val`` split (2 scenes:
8 samples at the default) and is evaluated on that same split by ``NuScenesMetric``, so the
devkit mAP measures how well the model fits its own training samples. ``--augmentations``
trains each config once per setting: ``all`` (the config's training augmentation), ``image``
(its image augmentation only), ``bev`` (its BEV rotation/scale/flips only), ``none`` (the
test-time image resize only). Results go to ``<out>/overfit.{json,md}``; runs are resumable
like ``distill_gain.py``'s.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from distill_gain import (BASELINE, LIDAR_ONLY, METRICS, ROOT,  # noqa: E402
                          resolved_config, train_and_test)
from simdistill.utils.atomic import write_json_atomic, write_text_atomic  # noqa: E402


BEV_AUGMENTATIONS = ('BEVGlobalRotScaleTrans', 'BEVRandomFlip3D', 'GlobalRotScaleTrans',
                     'RandomFlip3D')
IMAGE_AUGMENTATION = 'MultiViewImageAug3D'


def with_augmentations(config: str, keep: str, out: str) -> str:
    """``config`` with only the ``keep`` part of its training augmentation (``all``,
    ``image``, ``bev`` or ``none``), written to ``<out>/configs/``; returns its path. The image
    augmentation is replaced by the config's test-time resize, the BEV ones are dropped."""
    if keep == 'all':
        return config
    cfg = resolved_config(config, [])
    test_resize = None  # a LiDAR-only config has no image augmentation to replace
    if keep in ('bev', 'none'):
        test_resize = next((t for t in cfg.test_dataloader.dataset.pipeline
                            if t['type'] == IMAGE_AUGMENTATION), None)
    pipeline = []
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] in BEV_AUGMENTATIONS and keep in ('image', 'none'):
            continue
        if step['type'] == IMAGE_AUGMENTATION and test_resize is not None:
            step = test_resize
        pipeline.append(step)
    cfg.train_dataloader.dataset.pipeline = pipeline
    path = osp.join(out, 'configs', f'{osp.basename(config)[:-3]}_aug-{keep}.py')
    os.makedirs(osp.dirname(path), exist_ok=True)
    write_text_atomic(path, cfg.pretty_text)
    return path


def data_options(root: str) -> list:
    options = ['train_dataloader.dataset.ann_file=nuscenes_infos_val.pkl']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.append(f'{loader}.dataset.data_root={root}/')
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options += [f'{evaluator}.data_root={root}/',
                    f'{evaluator}.ann_file={root}/nuscenes_infos_val.pkl']
    return options


def make_data(root: str, samples_per_scene: int) -> None:
    if osp.isfile(osp.join(root, 'nuscenes_infos_val.pkl')):
        return
    subprocess.check_call([sys.executable, 'tools/create_synthetic_nuscenes.py', '--out', root,
                           '--samples-per-scene', str(samples_per_scene), '--force'], cwd=ROOT)
    subprocess.check_call([sys.executable, 'tools/create_data.py', '--root', root, '--version',
                           'v1.0-mini', '--max-sweeps', '10'], cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=[BASELINE, LIDAR_ONLY])
    parser.add_argument('--out', default='work_dirs/overfit')
    parser.add_argument('--samples-per-scene', type=int, default=4)
    parser.add_argument('--epochs', type=int, default=60)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--augmentations', nargs='+', default=['all'],
                        choices=['all', 'image', 'bev', 'none'],
                        help='which training augmentation each config keeps (one run each)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra options for every run')
    args = parser.parse_args()
    out = osp.abspath(args.out)
    root = osp.join(out, 'data', 'nuscenes')  # mmdet3d's converter needs .../data/nuscenes
    make_data(root, args.samples_per_scene)
    results = []
    for config in args.configs:
        for keep in args.augmentations:
            name = osp.basename(config)[:-3] + ('' if keep == 'all' else f'_aug-{keep}')
            results.append(train_and_test(name, with_augmentations(config, keep, out),
                                          args.seed, data_options(root) + args.cfg_options,
                                          out, args.epochs))
    lines = [f'Trained and scored on the same {2 * args.samples_per_scene} samples '
             f'({args.epochs} epochs):', '', '| config | ' + ' | '.join(METRICS) + ' |',
             '|---|' + '---|' * len(METRICS)]
    for r in results:
        lines.append(f'| {r["name"]} | ' + ' | '.join(f'{r["metrics"][m]:.4f}'
                                                     for m in METRICS) + ' |')
    write_json_atomic(osp.join(out, 'overfit.json'), results)
    write_text_atomic(osp.join(out, 'overfit.md'), '\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
