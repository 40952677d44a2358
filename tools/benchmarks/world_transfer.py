"""Does a detector trained on one synthetic world work on another? The CPU LiDAR-only model
trained on world A (seed 0, the default world: each scene draws its layout, clutter density and
palette) is evaluated on A's mini_val and on world B (another seed and a pinned style outside
A's mix: suburban layout, clutter 1.5 beyond A's range, pastel colours), both through the devkit.
A's mini_val is two scenes; the model is also evaluated on world A_downtown (seed 0 pinned to
one style of A's mix, downtown at clutter 1 in the standard palette: the world before the mix)
so that one val pair's draw is not the only reference.

    python tools/benchmarks/world_transfer.py                 # full: 12 epochs, default worlds
    python tools/benchmarks/world_transfer.py --quick         # tiny worlds, 1 epoch (smoke run)

Stages, each skipped when its output exists (so re-running continues where it stopped):
generate world A and world B (``tools/create_synthetic_nuscenes.py``, then mmdet3d's converter),
train on A (``tools/train.py --resume``), test on A and on B (``tools/test.py``,
``NuScenesMetric``). Prints a table and writes ``<results>`` (JSON, atomically): both worlds'
metrics, every scene's style and split, and the ratio B / A of mAP and NDS.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from distill_gain import run_logged, schedule_options  # noqa: E402
from synthetic_nuscenes import SCENES, SyntheticNuScenesConfig  # noqa: E402
from synthetic_nuscenes.scene import scene_style  # noqa: E402
from simdistill.utils.atomic import write_json_atomic  # noqa: E402
from simdistill.evaluation.metric_logs import read_nuscenes_metrics  # noqa: E402

CONFIG = 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'
METRICS = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')
# World name -> generator flags besides the size ones. A is the default world (its scenes'
# styles drawn from the seed); B pins a style with clutter beyond A's default range; A_downtown
# pins one style A draws from.
WORLDS = {
    'A': ['--seed', '0'],
    'A_downtown': ['--seed', '0', '--city-layout', 'downtown', '--clutter-density', '1.0',
                   '--colour-palette', 'standard'],
    'B': ['--seed', '1', '--city-layout', 'suburban', '--clutter-density', '1.5',
          '--colour-palette', 'pastel'],
}
FULL_SIZE = ['--samples-per-scene', '20', '--image-scale', '0.25', '--sweeps-per-sample', '3']
QUICK_SIZE = ['--samples-per-scene', '4', '--image-scale', '0.05', '--sweeps-per-sample', '1']


def make_world(name: str, out: str, size: List[str], max_sweeps: int, log: str,
               seconds: Dict[str, float]) -> str:
    """Generates world ``name`` under ``<out>/world_<name>/data/nuscenes`` with its info pkls
    (its time in ``seconds['generate_<name>']``); returns the dataroot (with a trailing /)."""
    root = osp.join(out, f'world_{name}', 'data', 'nuscenes')
    if not osp.isfile(osp.join(root, 'nuscenes_infos_val.pkl')):
        start = time.time()
        run_logged([sys.executable, 'tools/create_synthetic_nuscenes.py', '--out', root,
                    '--force', '--no-progress', *size, *WORLDS[name]], log)
        run_logged([sys.executable, 'tools/create_data.py', '--root', root, '--version',
                    'v1.0-mini', '--max-sweeps', str(max_sweeps)], log)
        seconds[f'generate_{name}'] = round(time.time() - start, 1)
        print(f'[world_transfer] world {name}: generated in {seconds[f"generate_{name}"]:.0f} s',
              flush=True)
    return root + '/'


def scene_styles(root: str) -> Dict[str, str]:
    """Scene name -> '<split>: <style>' of the world at ``root``, from the generator settings
    recorded in its ``synthetic_nuscenes.json``."""
    from nuscenes.utils.splits import mini_val
    with open(osp.join(root, 'synthetic_nuscenes.json')) as f:
        config = SyntheticNuScenesConfig(**json.load(f)['config'])
    return {
        name: f'{"val" if name in mini_val else "train"}: '
        f'{scene_style(config, index).description()}'
        for index, (name, _) in enumerate(SCENES)
    }


def data_options(root: str, workers: int) -> List[str]:
    """``--cfg-options`` pointing every loader and evaluator at the dataroot ``root``."""
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers={workers}',
                    f'{loader}.persistent_workers={workers > 0}']
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options += [f'{evaluator}.data_root={root}',
                    f'{evaluator}.ann_file={root}nuscenes_infos_val.pkl']
    return options


def evaluate(config: str, checkpoint: str, root: str, work: str, options: List[str],
             log: str) -> Dict[str, float]:
    """``tools/test.py`` on the val split of ``root``; its devkit metrics."""
    run_logged([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', work,
                '--cfg-options', *options], log)
    return read_nuscenes_metrics(work)


def table(result: dict) -> str:
    lines = ['| evaluated on | ' + ' | '.join(METRICS) + ' |', '|---|' + '---|' * len(METRICS)]
    for world, metrics in result['metrics'].items():
        lines.append(f'| world {world} ({result["worlds"][world]}) | ' +
                     ' | '.join(f'{metrics[m]:.4f}' for m in METRICS) + ' |')
    lines.append(f'| ratio B / A | {result["ratio"]["mAP"]:.2f} | {result["ratio"]["NDS"]:.2f} |'
                 + ' |' * (len(METRICS) - 2))
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/world_transfer')
    parser.add_argument('--results', default='tools/benchmarks/results/world_transfer.json')
    parser.add_argument('--epochs', type=int, help='default: 12, or 1 with --quick')
    parser.add_argument('--quick', action='store_true',
                        help='tiny worlds (4 key frames per scene) and 1 epoch: a smoke run')
    parser.add_argument('--workers', type=int, default=2, help='data loader workers')
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 12)
    size = QUICK_SIZE if args.quick else FULL_SIZE
    max_sweeps = 1 if args.quick else 10
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    log = osp.join(out, 'run.log')
    seconds = {}
    if osp.isfile(args.results):  # a resumed run keeps the times of the stages it skips
        with open(args.results) as f:
            earlier = json.load(f)
        if (earlier.get('epochs'), earlier.get('quick')) == (epochs, args.quick):
            seconds.update(earlier.get('wall_s', {}))
    roots = {name: make_world(name, out, size, max_sweeps, log, seconds) for name in WORLDS}
    train_dir = osp.join(out, 'train_A')
    checkpoint = osp.join(train_dir, f'epoch_{epochs}.pth')
    schedule = ['randomness.seed=0', *schedule_options(epochs)]
    if not osp.isfile(checkpoint):
        start = time.time()
        print(f'[world_transfer] training on world A ({epochs} epochs), log {log}', flush=True)
        run_logged([sys.executable, 'tools/train.py', CONFIG, '--work-dir', train_dir, '--resume',
                    '--cfg-options', *schedule, 'train_cfg.val_interval=1000',
                    *data_options(roots['A'], args.workers)], log)
        seconds['train'] = round(time.time() - start, 1)
    metrics = {}
    for name, root in roots.items():
        work = osp.join(out, f'test_on_{name}')
        try:  # tested before
            metrics[name] = read_nuscenes_metrics(work)
        except FileNotFoundError:
            start = time.time()
            metrics[name] = evaluate(CONFIG, checkpoint, root, work,
                                     [*schedule, *data_options(root, args.workers)], log)
            seconds[f'test_{name}'] = round(time.time() - start, 1)
        print(f'[world_transfer] world {name}: mAP {metrics[name]["mAP"]:.4f} '
              f'NDS {metrics[name]["NDS"]:.4f}', flush=True)
    ratio = {m: (metrics['B'][m] / metrics['A'][m] if metrics['A'][m] else float('nan'))
             for m in ('mAP', 'NDS')}
    result = dict(
        benchmark='world_transfer', config=CONFIG, epochs=epochs, quick=args.quick,
        worlds={name: ' '.join(flags) for name, flags in WORLDS.items()},
        scenes={name: scene_styles(root) for name, root in roots.items()},
        size=' '.join(size), metrics={name: {m: metrics[name][m] for m in METRICS}
                                      for name in metrics},
        ratio=ratio, wall_s=seconds)
    os.makedirs(osp.dirname(osp.abspath(args.results)), exist_ok=True)
    write_json_atomic(args.results, result)
    print(table(result))
    print(f'Wrote {args.results}')


if __name__ == '__main__':
    main()
