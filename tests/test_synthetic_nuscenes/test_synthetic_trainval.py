"""The synthetic v1.0-trainval release, checked with the devkit's lists, readers and evaluation
and with mmdet3d's converter; the object counts checked against a hand-counted release."""
import dataclasses
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.nuscenes import NuScenes
from nuscenes.utils import splits as devkit_splits
from nuscenes.utils.splits import create_splits_scenes

from simdistill.datasets.nuscenes_stats import read_release_stats
from synthetic_nuscenes import (SyntheticNuScenesConfig,
                                                    generate_synthetic_nuscenes, plan_release,
                                                    simulate_scene)
from synthetic_nuscenes.catalog import SCENE_SPACING
from synthetic_nuscenes.scene import stream_rng
from synthetic_nuscenes.testing import ROOT, assert_ground_truth_scored_perfectly, load_cli

VERSION = 'v1.0-trainval'
LOCATIONS = {'boston-seaport', 'singapore-onenorth', 'singapore-queenstown',
             'singapore-hollandvillage'}
# 3 train scenes (the first and third share a Boston log), 2 val scenes of 3 key frames each.
SETTINGS = dict(version=VERSION, train_scenes=3, val_scenes=2, samples_per_scene=2,
                val_samples_per_scene=3, image_scale=0.05, sweeps_per_sample=1,
                azimuth_step_deg=1.0, seed=5)
STREAMS = ('world', 'style', 'layout', 'background', 'shapes', 'calibration', 'lighting', 'lidar',
           'camera')


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    """(dataroot, generation summary) of a tiny v1.0-trainval release."""
    root = tmp_path_factory.mktemp('synthetic_trainval') / 'data' / 'nuscenes'
    summary = generate_synthetic_nuscenes(root, SyntheticNuScenesConfig(**SETTINGS),
                                          progress=False)
    return root, summary


@pytest.fixture(scope='module')
def nusc(release) -> NuScenes:
    return NuScenes(version=VERSION, dataroot=str(release[0]), verbose=False)


@pytest.fixture(scope='module')
def infos(release) -> dict:
    """Split -> info pkl of the release, made by mmdet3d's converter (through
    ``tools/create_data.py``'s function)."""
    from simdistill.datasets.nuscenes_infos import create_nuscenes_infos
    return create_nuscenes_infos(str(release[0]), VERSION, max_sweeps=1, verbose=False)


def scene_of_sample(nusc, sample_token: str) -> str:
    return nusc.get('scene', nusc.get('sample', sample_token)['scene_token'])['name']


def test_release_has_the_trainval_layout_with_the_devkits_names(release, nusc):
    root, _ = release
    assert sorted(p.name for p in root.iterdir()) == [
        'maps', 'samples', 'sweeps', 'synthetic_nuscenes.json', VERSION]
    names = [scene['name'] for scene in nusc.scene]
    assert names == list(devkit_splits.train[:3]) + list(devkit_splits.val[:2])
    splits = create_splits_scenes()
    assert set(names[:3]) <= set(splits['train']) and set(names[3:]) <= set(splits['val'])
    samples = {s['name']: s['nbr_samples'] for s in nusc.scene}
    assert [samples[n] for n in names] == [2, 2, 2, 3, 3]
    logs = {log['token']: log for log in nusc.log}
    assert {log['location'] for log in nusc.log} <= LOCATIONS
    log_split = defaultdict(set)
    for scene in nusc.scene:
        log_split[scene['log_token']].add(scene['name'] in splits['val'])
        log = logs[scene['log_token']]
        # Real logs: Boston is driven by n008 at UTC-4, Singapore by n015 at UTC+8.
        assert re.fullmatch(r'n008-2018(-\d\d){5}-0400' if log['location'].startswith('boston')
                            else r'n015-2018(-\d\d){5}\+0800', log['logfile']), log['logfile']
    assert all(len(v) == 1 for v in log_split.values())  # no log holds train and val scenes
    assert len(logs) == 4  # train: Boston (2 scenes), onenorth; val: Boston, onenorth
    marker = json.loads((root / 'synthetic_nuscenes.json').read_text())
    assert marker['version'] == VERSION
    assert SyntheticNuScenesConfig(**marker['config']).val_seed == 6  # seed + 1


def test_scenes_of_a_log_never_overlap_and_a_location_keeps_its_scenes_apart(nusc):
    """From the tables: every sample_data timestamp (sweeps and cameras too) of one scene lies
    outside the time span of every other scene of its log, and ego poses of two scenes at one
    location stay far apart."""
    spans, poses, location = {}, defaultdict(list), {}
    for sd in nusc.sample_data:
        scene = scene_of_sample(nusc, sd['sample_token'])
        t = sd['timestamp']
        lo, hi = spans.get(scene, (t, t))
        spans[scene] = min(lo, t), max(hi, t)
        poses[scene].append(nusc.get('ego_pose', sd['ego_pose_token'])['translation'][:2])
    log_of = {s['name']: s['log_token'] for s in nusc.scene}
    for s in nusc.scene:
        location[s['name']] = nusc.get('log', s['log_token'])['location']
    shared_log = 0
    for a in spans:
        for b in spans:
            if a >= b:
                continue
            if log_of[a] == log_of[b]:
                shared_log += 1
                assert spans[a][1] < spans[b][0] or spans[b][1] < spans[a][0], (a, b)
            if location[a] == location[b]:
                gap = np.linalg.norm(np.asarray(poses[a])[:, None] - np.asarray(poses[b])[None],
                                     axis=-1).min()
                assert gap > SCENE_SPACING - 2 * 40 - 2 * 30, (a, b, gap)
    assert shared_log == 1


def test_every_drive_lies_on_its_locations_map_mask(nusc):
    """The devkit's map mask of each location holds every ego pose of its scenes, train and
    val, on their separate grid cells."""
    checked = 0
    for scene in nusc.scene:
        log = nusc.get('log', scene['log_token'])
        mask = nusc.get('map', log['map_token'])['mask']
        token = scene['first_sample_token']
        while token:
            sample = nusc.get('sample', token)
            sd = nusc.get('sample_data', sample['data']['LIDAR_TOP'])
            x, y = nusc.get('ego_pose', sd['ego_pose_token'])['translation'][:2]
            assert mask.is_on_mask(x, y)[0], (scene['name'], x, y)
            checked += 1
            token = sample['next']
    assert checked == 12


def test_logs_over_the_whole_trainval_plan():
    """The largest release's plan (700 + 150 scenes): unique names and logs, one split and
    location per log, non-overlapping times in every log, distinct places per location, all
    four locations in both splits."""
    config = SyntheticNuScenesConfig(version=VERSION, train_scenes=700, val_scenes=150,
                                     samples_per_scene=40, val_samples_per_scene=20)
    plans = plan_release(config)
    assert [p.name for p in plans] == list(devkit_splits.train) + list(devkit_splits.val)
    by_log = defaultdict(list)
    for plan in plans:
        by_log[plan.log.logfile].append(plan)
    for logfile, members in by_log.items():
        assert len({(p.split, p.log.location) for p in members}) == 1, logfile
        spans = sorted((p.log_offset_s, p.log_offset_s + (p.samples - 1) * 0.5 + 1.0)
                       for p in members)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), logfile
    places = [(p.log.location, p.start_xy) for p in plans]
    assert len(set(places)) == len(places)
    for split in ('train', 'val'):
        assert {p.log.location for p in plans if p.split == split} == LOCATIONS
    seeds = {(p.seed, p.world_index) for p in plans}
    assert len(seeds) == len(plans) and {p.seed for p in plans} == {0, 1}


def _sizes(world) -> list:
    return [tuple(np.round(o.size_wlh, 6)) for o in world.objects]


def test_val_worlds_were_never_train_worlds():
    config = SyntheticNuScenesConfig(**SETTINGS)
    plans = plan_release(config)
    train = [p for p in plans if p.split == 'train']
    val = [p for p in plans if p.split == 'val']
    assert [(p.seed, p.world_index) for p in val] == [(6, 0), (6, 1)]
    # No stream of any val scene is a stream of any train scene (the largest release): their
    # generators' first states differ.
    states = {
        split: {
            tuple(stream_rng(seed, k, stream).bit_generator.random_raw(2))
            for k in range(count) for stream in STREAMS
        }
        for split, seed, count in (('train', 5, 700), ('val', 6, 150))
    }
    assert len(states['train']) == 700 * len(STREAMS) and len(states['val']) == 150 * len(STREAMS)
    assert states['train'].isdisjoint(states['val'])
    # Val scene 0 and what the train seed draws for the same scene index at the same place and
    # time: other objects, another drive.
    world = simulate_scene(config, val[0])
    as_train = simulate_scene(config, dataclasses.replace(val[0], seed=config.seed))
    assert world.ego.motion != as_train.ego.motion
    assert _sizes(world) != _sizes(as_train)
    assert world.layout.seed != simulate_scene(config, train[0]).layout.seed
    # A val scene is the same whatever the training set's size.
    bigger = SyntheticNuScenesConfig(**{**SETTINGS, 'train_scenes': 40})
    again = simulate_scene(bigger, [p for p in plan_release(bigger) if p.split == 'val'][0])
    assert again.name == world.name and again.ego.motion == world.ego.motion
    assert np.array_equal(again.key_timestamps, world.key_timestamps)
    assert _sizes(again) == _sizes(world)


def test_converter_puts_train_scenes_in_train_infos_and_val_scenes_in_val_infos(infos, nusc):
    from mmengine.fileio import load
    splits = create_splits_scenes()
    for split, scenes, samples in (('train', devkit_splits.train[:3], 6),
                                   ('val', devkit_splits.val[:2], 6)):
        data = load(infos[split])
        assert data['metainfo']['version'] == VERSION
        tokens = [info['token'] for info in data['data_list']]
        assert len(tokens) == samples
        assert {scene_of_sample(nusc, t) for t in tokens} == set(scenes)
        assert all(scene_of_sample(nusc, t) in splits[split] for t in tokens)


def _ground_truth_submission(nusc, split_scenes) -> dict:
    results = {}
    for sample in nusc.sample:
        if scene_of_sample(nusc, sample['token']) not in split_scenes:
            continue
        results[sample['token']] = []
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            if ann['num_lidar_pts'] == 0:
                continue  # the evaluation drops such ground truth
            attributes = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
            results[sample['token']].append({
                'sample_token': sample['token'], 'translation': ann['translation'],
                'size': ann['size'], 'rotation': ann['rotation'],
                'velocity': np.nan_to_num(nusc.box_velocity(ann_token)[:2]).tolist(),
                'detection_name': category_to_detection_name(ann['category_name']),
                'detection_score': 1.0,
                'attribute_name': attributes[0] if attributes else ''})
    meta = dict(use_camera=False, use_lidar=True, use_radar=False, use_map=False,
                use_external=False)
    return {'meta': meta, 'results': results}


def test_devkit_evaluates_ground_truth_on_val_perfectly(nusc, tmp_path):
    """DetectionEval on eval_set 'val' takes exactly the val scenes' samples (it refuses a
    submission whose samples differ) and scores their ground truth perfectly."""
    val = set(create_splits_scenes()['val'])
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(_ground_truth_submission(nusc, val)))
    evaluation = DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path),
                               eval_set='val', output_dir=str(tmp_path), verbose=False)
    assert {scene_of_sample(nusc, t) for t in evaluation.gt_boxes.sample_tokens} == set(
        devkit_splits.val[:2])
    assert_ground_truth_scored_perfectly(evaluation)


def test_object_counts_agree_with_a_devkit_recount(release, nusc, tmp_path, capsys):
    """The generation summary and tools/benchmarks/data_stats.py count the physical objects
    the devkit's records give (instances with an annotation holding a LiDAR point)."""
    root, summary = release
    splits = create_splits_scenes()
    recount = {split: defaultdict(set) for split in ('train', 'val')}
    for ann in nusc.sample_annotation:
        scene = scene_of_sample(nusc, ann['sample_token'])
        split = 'train' if scene in splits['train'] else 'val'
        name = category_to_detection_name(ann['category_name'])
        if ann['num_lidar_pts'] > 0 and name:
            recount[split][name].add(ann['instance_token'])
    stats = {s.split: s for s in summary.splits}
    assert list(stats) == ['train', 'val']
    assert (stats['train'].scenes, stats['train'].samples) == (3, 6)
    assert (stats['val'].scenes, stats['val'].samples) == (2, 6)
    for split in ('train', 'val'):
        assert stats[split].objects == {c: len(recount[split][c]) for c in stats[split].objects}
        assert stats[split].total_objects > 20
    assert read_release_stats(str(root), VERSION) == summary.splits
    assert f'| val | 2 | 6 | {stats["val"].total_objects} |' in str(summary)


# ------------------------------------------------------------------ a hand-counted release


def _write_tables(folder: Path, tables: dict) -> None:
    folder.mkdir(parents=True)
    for name, records in tables.items():
        (folder / f'{name}.json').write_text(json.dumps(records))


def hand_counted_tables() -> dict:
    """Two train scenes, one val scene, one scene in no split.

    Counted by hand: train: car A (points in its 2nd annotation) and car B (in its 1st): 2
    cars; pedestrian P has no point in any annotation: 0; the animal has points but no
    detection class. val: bus C with points twice: 1 bus; cone D: 1 cone. 'scene-9999' (in no
    split): 1 car.
    """
    scenes = [('s1', 'scene-0001'), ('s2', 'scene-0002'), ('s3', 'scene-0003'),
              ('s4', 'scene-9999')]
    samples = [('a', 's1'), ('b', 's1'), ('c', 's2'), ('d', 's3'), ('e', 's3'), ('f', 's4')]
    categories = {'vehicle.car': 'kc', 'human.pedestrian.adult': 'kp', 'animal': 'ka',
                  'vehicle.bus.rigid': 'kb', 'movable_object.trafficcone': 'kt'}
    instances = {'A': 'kc', 'B': 'kc', 'P': 'kp', 'N': 'ka', 'C': 'kb', 'D': 'kt', 'E': 'kc'}
    annotations = [('A', 'a', 0), ('A', 'b', 12), ('B', 'c', 3), ('P', 'a', 0), ('P', 'b', 0),
                   ('N', 'c', 40), ('C', 'd', 5), ('C', 'e', 9), ('D', 'e', 1), ('E', 'f', 2)]
    return {
        'scene': [dict(token=t, name=n) for t, n in scenes],
        'sample': [dict(token=t, scene_token=s) for t, s in samples],
        'category': [dict(token=t, name=n) for n, t in categories.items()],
        'instance': [dict(token=t, category_token=c) for t, c in instances.items()],
        'sample_annotation': [dict(token=f'{i}{s}', instance_token=i, sample_token=s,
                                   num_lidar_pts=n) for i, s, n in annotations],
    }


def data_stats_main():
    """``main`` of tools/benchmarks/data_stats.py."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'data_stats', ROOT / 'tools' / 'benchmarks' / 'data_stats.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_data_stats_tool_on_a_hand_counted_release(tmp_path, capsys):
    main = data_stats_main()
    _write_tables(tmp_path / 'data' / VERSION, hand_counted_tables())
    results = tmp_path / 'stats.json'
    main([str(tmp_path / 'data'), '--version', VERSION, '--results', str(results)])
    counted = json.loads(results.read_text())['splits']
    assert list(counted) == ['train', 'val', 'no split']
    zero = dict.fromkeys(counted['train']['objects'], 0)
    assert len(zero) == 10
    assert counted['train'] == dict(scenes=2, samples=3, objects={**zero, 'car': 2},
                                    total_objects=2)
    assert counted['val'] == dict(scenes=1, samples=2,
                                  objects={**zero, 'bus': 1, 'traffic_cone': 1}, total_objects=2)
    assert counted['no split'] == dict(scenes=1, samples=1, objects={**zero, 'car': 1},
                                       total_objects=1)
    table = capsys.readouterr().out
    assert re.search(r'\| train \| 2 \| 3 \| 2 \| 2 \|', table), table  # car comes first


def test_data_stats_tool_rejects_bad_input(tmp_path, capsys):
    main = data_stats_main()
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), '--version', 'v2.0'])
    assert exit_info.value.code == 2 and '--version' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), '--version', VERSION, '--results', str(tmp_path / 's.json')])
    assert exit_info.value.code == 1
    assert f'{tmp_path}/{VERSION}/scene.json' in capsys.readouterr().err
    assert not (tmp_path / 's.json').exists()


# ----------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize('settings, field', [
    (dict(version='v1.0-test'), 'version'),
    (dict(train_scenes=4), 'train_scenes'),  # v1.0-mini has its fixed scenes
    (dict(val_seed=3), 'val_seed'),
    (dict(val_samples_per_scene=3), 'val_samples_per_scene'),
    (dict(version=VERSION, train_scenes=0), 'train_scenes'),
    (dict(version=VERSION, train_scenes=701), 'train_scenes'),
    (dict(version=VERSION, val_scenes=151), 'val_scenes'),
    (dict(version=VERSION, val_scenes=2.5), 'val_scenes'),
    (dict(version=VERSION, seed=4, val_seed=4), 'val_seed'),
    (dict(version=VERSION, val_seed=-1), 'val_seed'),
    (dict(version=VERSION, seed=2**32), 'seed'),
    (dict(version=VERSION, val_samples_per_scene=0), 'val_samples_per_scene'),
])
def test_bad_trainval_settings_are_rejected_clearly(settings, field):
    with pytest.raises(ValueError, match=rf'\b{field}\b'):
        SyntheticNuScenesConfig(**settings)


@pytest.mark.parametrize('args, flag', [
    (['--version', 'v1.0'], '--version'),
    (['--train-scenes', '3'], '--train-scenes'),
    (['--val-seed', '1'], '--val-seed'),
    (['--version', VERSION, '--val-scenes', '0'], '--val-scenes'),
    (['--version', VERSION, '--seed', '2', '--val-seed', '2'], '--val-seed'),
    (['--version', VERSION, '--val-samples-per-scene', '0'], '--val-samples-per-scene'),
    (['--version', VERSION, '--train-scenes', 'many'], '--train-scenes'),
])
def test_cli_rejects_bad_trainval_flags(tmp_path, capsys, args, flag):
    main = load_cli()
    with pytest.raises(SystemExit) as exit_info:
        main(['--out', str(tmp_path / 'x'), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err, err
    assert not re.search(r'\b(train_scenes|val_scenes|val_seed|val_samples_per_scene)\b', err)
    assert not (tmp_path / 'x').exists()


# ------------------------------------------------------------------------------ the configs


def test_a_cpu_config_evaluates_the_trainval_release_on_val(release, infos, nusc, tmp_path):
    """tools/test.py's config with the release's --cfg-options: every loader and evaluator reads
    the release, the geometry is the CPU setting's, and the metric built from it (mmdet3d's
    NuScenesMetric, given the dataset's metainfo as the runner does) evaluates on the devkit's
    'val' split: the val ground truth submitted as predictions scores AP 1."""
    import argparse
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope
    from mmdet3d.registry import DATASETS, METRICS
    from simdistill.datasets.release_options import release_cfg_options
    root, _ = release
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(['--cfg-options', *release_cfg_options(str(root), VERSION)])
    cfg = Config.fromfile(str(ROOT / 'configs/bevfusion/'
                              'bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'))
    geometry = (cfg.point_cloud_range, cfg.test_dataloader.dataset.pipeline)
    cfg.merge_from_dict(args.cfg_options)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == f'{root}/'
        assert cfg[loader].dataset.metainfo.version == VERSION
    assert (cfg.point_cloud_range, cfg.test_dataloader.dataset.pipeline) == geometry
    init_default_scope('mmdet3d')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 6  # the val scenes' key frames
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    assert metric.ann_file == infos['val']
    path = tmp_path / 'results_nusc.json'
    path.write_text(json.dumps(_ground_truth_submission(nusc, set(devkit_splits.val))))
    metrics = metric.evaluate_results_file(str(path))
    aps = {k.split('/')[1][:-len('_AP_dist_2.0')]: v for k, v in metrics.items()
           if k.endswith('_AP_dist_2.0')}
    assert len(aps) == 10 and sum(v == 1.0 for v in aps.values()) >= 5, aps
    assert set(aps.values()) <= {0.0, 1.0}  # 0: a class without val ground truth


def test_release_cfg_options_name_a_bad_version():
    from simdistill.datasets.release_options import release_cfg_options
    with pytest.raises(ValueError, match='v1.0-test'):
        release_cfg_options('data/nuscenes', 'v1.0-test')


def test_annotations_do_not_depend_on_the_image_scale(tmp_path):
    """What a release annotates (boxes, LiDAR point counts, visibility) is the same at any
    image scale, so a release's object counts can be checked on a cheap low-resolution copy."""
    tables = {}
    for scale in (0.05, 0.1):
        config = SyntheticNuScenesConfig(**{**SETTINGS, 'train_scenes': 2, 'val_scenes': 1,
                                            'val_samples_per_scene': 2, 'image_scale': scale})
        root = generate_synthetic_nuscenes(tmp_path / str(scale), config, progress=False).root
        tables[scale] = {name: (root / VERSION / f'{name}.json').read_bytes()
                         for name in ('sample_annotation', 'instance', 'sample')}
        widths = {sd['width'] for sd in json.loads((root / VERSION / 'sample_data.json')
                                                   .read_bytes()) if sd['fileformat'] == 'jpg'}
        assert widths == {round(1600 * scale)}
    assert tables[0.05] == tables[0.1]


def test_trainval_size_projection_by_hand():
    """tools/benchmarks/trainval_size.py's projection on a hand-made probe: 2 probe scenes saw
    4 cars (2 per scene) of the 8 they placed (half); a proposed val split of 10 scenes placing
    30 cars expects min(2 x 10, 0.5 x 30) = 15 cars, and every other class (never seen) 0."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'trainval_size', ROOT / 'tools' / 'benchmarks' / 'trainval_size.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    zero = {c: 0 for c in module.CLASS_NAMES}
    probe = dict(seconds_per_sample=0.5, physical={'s1': {**zero, 'car': 3},
                                                   's2': {**zero, 'car': 1}})
    probe_placed = {'train': {'s1': module.Counter(car=5)}, 'val': {'s2': module.Counter(car=3)}}
    proposed = {'train': {f't{i}': module.Counter(car=3) for i in range(40)},
                'val': {f'v{i}': module.Counter(car=3) for i in range(10)}}
    result = module.project(probe, probe_placed, proposed, dict(train=10, val=4))
    val = result['splits']['val']
    assert result['rate_per_scene']['car'] == 2.0 and result['seen_share']['car'] == 0.5
    assert (val['by_rate']['car'], val['by_placement']['car'], val['expected_total']) == (
        20.0, 15.0, 15)
    assert result['splits']['train']['expected_total'] == 60  # min(2 x 40, 0.5 x 120)
    assert val['scenes_for_15_each']['car'] == 8 and val['scenes_for_15_each']['bus'] is None
    assert result['meets_targets'] == dict(train=False, val=False)
    assert result['expected_generation_minutes'] == round((400 + 40) * 0.5 / 60, 1)
