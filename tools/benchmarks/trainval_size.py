"""How large must the synthetic v1.0-trainval benchmark be to measure? Generates a small probe
release at the benchmark's settings, measures its generation time per sample and its physical
objects per scene per class, and projects the proposed release's object counts and time.

    python tools/benchmarks/trainval_size.py [--probe-train 2 --probe-val 2]
        [--train-scenes 52 --val-scenes 32 --samples-per-scene 10 --image-scale 0.25]

Two projections of the proposed release's physical objects (instances with a LiDAR point):
``by_rate``: the probe's objects per scene and class times the scene count; ``by_placement``:
the objects the proposed scenes place (exact: every proposed world is simulated, cheaply, with
no sensor) times the share of placed objects of that class the probe's LiDAR saw. The targets
(training: >= 800 objects in >= 40 scenes; val: >= 500, every class >= 15) are checked on the
smaller of the two. The class mix is the generator's; only scene counts are chosen.
"""
import argparse
import json
import math
import os.path as osp
import sys
import tempfile
import time
from collections import Counter
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
from simdistill.datasets.nuscenes_stats import count_objects  # noqa: E402
from synthetic_nuscenes import (CLASS_NAMES, OBJECT_CLASSES,  # noqa: E402
                                                    SyntheticNuScenesConfig,
                                                    generate_synthetic_nuscenes, plan_release,
                                                    simulate_scene)
from synthetic_nuscenes.config import (  # noqa: E402
    BENCHMARK_TRAIN_SCENES, BENCHMARK_VAL_SCENES)
from simdistill.utils.atomic import write_json_atomic  # noqa: E402

TARGETS = dict(train_objects=800, train_scenes=40, val_objects=500, val_class_objects=15)


def placed_objects(config: SyntheticNuScenesConfig) -> Dict[str, Dict[str, Counter]]:
    """Split -> scene name -> objects placed per class, for every scene of ``config``'s release
    (worlds only: no sensor is simulated)."""
    placed: Dict[str, Dict[str, Counter]] = {}
    for plan in plan_release(config):
        world = simulate_scene(config, plan)
        placed.setdefault(plan.split, {})[plan.name] = Counter(
            OBJECT_CLASSES[obj.class_id].name for obj in world.objects)
    return placed


def probe(config: SyntheticNuScenesConfig, out: str) -> dict:
    """Generates the probe release under ``out``; its time and physical objects per scene."""
    start = time.perf_counter()
    summary = generate_synthetic_nuscenes(osp.join(out, 'data', 'nuscenes'), config,
                                          progress=False)
    wall = time.perf_counter() - start
    with open(osp.join(summary.root, config.version, 'scene.json')) as f:
        names = [scene['name'] for scene in json.load(f)]
    tables = {}
    for name in ('scene', 'sample', 'sample_annotation', 'instance', 'category'):
        with open(osp.join(summary.root, config.version, f'{name}.json')) as f:
            tables[name] = json.load(f)
    per_scene = count_objects(tables, names, {name: name for name in names})
    return dict(samples=summary.samples, seconds=round(summary.seconds, 1),
                wall_seconds=round(wall, 1), bytes=summary.bytes,
                seconds_per_sample=round(summary.seconds / summary.samples, 3),
                physical={s.split: s.objects for s in per_scene})


def project(probe_result: dict, probe_placed: dict, proposed_placed: dict,
            samples: Dict[str, int]) -> dict:
    """Expected physical objects per split and class of the proposed release (both ways), the
    scenes each class would need for the val target, the time, and the verdict."""
    physical = Counter()
    for objects in probe_result['physical'].values():
        physical.update(objects)
    placed = Counter()
    for scenes in probe_placed.values():
        for counts in scenes.values():
            placed.update(counts)
    probe_scenes = len(probe_result['physical'])
    rate = {c: physical[c] / probe_scenes for c in CLASS_NAMES}
    share = {c: physical[c] / placed[c] if placed[c] else 0.0 for c in CLASS_NAMES}
    result = dict(rate_per_scene={c: round(rate[c], 3) for c in CLASS_NAMES},
                  seen_share={c: round(share[c], 3) for c in CLASS_NAMES}, splits={})
    for split, scenes in proposed_placed.items():
        n = len(scenes)
        placed_split = Counter()
        for counts in scenes.values():
            placed_split.update(counts)
        by_rate = {c: rate[c] * n for c in CLASS_NAMES}
        by_placement = {c: share[c] * placed_split[c] for c in CLASS_NAMES}
        expected = {c: min(by_rate[c], by_placement[c]) for c in CLASS_NAMES}
        result['splits'][split] = dict(
            scenes=n, samples=n * samples[split], placed=dict(placed_split),
            by_rate={c: round(v, 1) for c, v in by_rate.items()},
            by_placement={c: round(v, 1) for c, v in by_placement.items()},
            expected_total=round(sum(expected.values())),
            expected_min_class=min(expected, key=expected.get),
            scenes_for_15_each={c: math.ceil(TARGETS['val_class_objects'] / rate[c])
                                if rate[c] else None for c in CLASS_NAMES})
    train, val = result['splits']['train'], result['splits']['val']
    val_expected = {c: min(val['by_rate'][c], val['by_placement'][c]) for c in CLASS_NAMES}
    result['meets_targets'] = dict(
        train=train['scenes'] >= TARGETS['train_scenes'] and
        train['expected_total'] >= TARGETS['train_objects'],
        val=val['expected_total'] >= TARGETS['val_objects'] and
        min(val_expected.values()) >= TARGETS['val_class_objects'])
    total_samples = train['samples'] + val['samples']
    result['expected_generation_minutes'] = round(
        total_samples * probe_result['seconds_per_sample'] / 60, 1)
    return result


def table(result: dict) -> str:
    lines = ['| split | scenes | samples | expected objects | ' + ' | '.join(CLASS_NAMES) + ' |',
             '|---|' + '---:|' * (3 + len(CLASS_NAMES))]
    for split, s in result['splits'].items():
        cells = [f'{min(s["by_rate"][c], s["by_placement"][c]):.0f}' for c in CLASS_NAMES]
        lines.append(f'| {split} | {s["scenes"]} | {s["samples"]} | {s["expected_total"]} | ' +
                     ' | '.join(cells) + ' |')
    lines.append('| probe: objects per scene | | | | ' +
                 ' | '.join(f'{result["rate_per_scene"][c]:.2f}' for c in CLASS_NAMES) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--probe-train', type=int, default=2, help='probe train scenes')
    parser.add_argument('--probe-val', type=int, default=2, help='probe val scenes')
    parser.add_argument('--train-scenes', type=int, default=BENCHMARK_TRAIN_SCENES,
                        help='proposed train scenes')
    parser.add_argument('--val-scenes', type=int, default=BENCHMARK_VAL_SCENES,
                        help='proposed val scenes')
    parser.add_argument('--samples-per-scene', type=int, default=10)
    parser.add_argument('--image-scale', type=float, default=0.25)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--results', default='tools/benchmarks/results/trainval_size.json')
    args = parser.parse_args(argv)
    common = dict(version='v1.0-trainval', samples_per_scene=args.samples_per_scene,
                  image_scale=args.image_scale, seed=args.seed)
    try:
        probe_config = SyntheticNuScenesConfig(train_scenes=args.probe_train,
                                               val_scenes=args.probe_val, **common)
        proposed = SyntheticNuScenesConfig(train_scenes=args.train_scenes,
                                           val_scenes=args.val_scenes, **common)
    except ValueError as error:
        parser.error(str(error))
    with tempfile.TemporaryDirectory(prefix='trainval_size.') as out:
        measured = probe(probe_config, out)
    samples = dict(train=proposed.samples_per_scene, val=proposed.val_samples_per_scene)
    result = dict(settings=vars(args), probe=measured,
                  **project(measured, placed_objects(probe_config), placed_objects(proposed),
                            samples))
    write_json_atomic(args.results, result)
    print(f'probe: {measured["samples"]} samples in {measured["seconds"]} s '
          f'({measured["seconds_per_sample"]} s per sample)')
    print(table(result))
    print(f'meets the targets: {result["meets_targets"]}; expected generation '
          f'{result["expected_generation_minutes"]} min single-threaded')
    print(f'Wrote {args.results}')


if __name__ == '__main__':
    main()
