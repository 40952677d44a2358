"""Every bad input fails with a simdistill.errors error naming the file, key or shape, and
nothing is written: point files, images, info pkls, samples, configs, checkpoints, results."""
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import cv2
import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

import simdistill  # noqa: F401  (registers the modules)
from simdistill.errors import (CheckpointMismatchError, ConfigMismatchError, CorruptFileError,
                               InfoFileError, InputError, MissingFileError, ResultsFileError,
                               SampleLayoutError)
from simdistill.entrypoints.inputs import check_tool_inputs
from simdistill.testing import (CAMERAS, COMMON, DISTILLER, LOAD_DIM, ROOT, TEACHER,
                               build_dataset, camera_results, data_options, drop_image_pretrain,
                               info_sample, load_images, load_points, load_sweep,
                               nuscenes_metainfo)


@pytest.fixture(scope='module', autouse=True)
def mmdet3d_scope():
    init_default_scope('mmdet3d')


# ---------------------------------------------------------------------------------------------
# point files
# ---------------------------------------------------------------------------------------------
def write_points(path, num_points, seed=0):
    points = np.random.RandomState(seed).uniform(-50, 50, (num_points, LOAD_DIM))
    points.astype(np.float32).tofile(path)
    return points.astype(np.float32)


def test_valid_point_file_loads_unchanged(tmp_path):
    expected = write_points(tmp_path / 'ok.pcd.bin', 7)
    np.testing.assert_array_equal(load_points(tmp_path / 'ok.pcd.bin'), expected)


@pytest.mark.parametrize('cut, size', [(3, 7 * 20 - 3), (8, 7 * 20 - 8), (140, 0)])
def test_truncated_point_file_names_the_file_and_the_expected_size(tmp_path, cut, size):
    # 7 points of 5 float32 = 140 bytes; cutting 3 bytes breaks a float, 8 bytes a point.
    path = tmp_path / 'cut.pcd.bin'
    write_points(path, 7)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - cut])
    for load in (load_points, lambda p: load_sweep(tmp_path / 'key.pcd.bin', p)):
        write_points(tmp_path / 'key.pcd.bin', 3)
        with pytest.raises(CorruptFileError) as info:
            load(path)
        assert str(path) in str(info.value) and 'multiple of 20 bytes' in str(info.value)
        assert f'{size} bytes' in str(info.value)


def test_missing_point_file_names_the_file(tmp_path):
    write_points(tmp_path / 'key.pcd.bin', 3)
    for load in (load_points, lambda p: load_sweep(tmp_path / 'key.pcd.bin', p)):
        with pytest.raises(MissingFileError, match='nope.pcd.bin') as info:
            load(tmp_path / 'nope.pcd.bin')
        assert isinstance(info.value, FileNotFoundError)


def test_non_finite_point_values_are_refused(tmp_path):
    points = write_points(tmp_path / 'nan.pcd.bin', 4)
    points[2, 1] = np.nan
    points[3, 4] = np.inf
    points.tofile(tmp_path / 'nan.pcd.bin')
    with pytest.raises(CorruptFileError, match=r'nan.pcd.bin holds 2 non-finite'):
        load_points(tmp_path / 'nan.pcd.bin')


# ---------------------------------------------------------------------------------------------
# images and cameras
# ---------------------------------------------------------------------------------------------
def test_valid_images_load(tmp_path):
    results = load_images(camera_results(tmp_path))
    expected = cv2.imread(str(tmp_path / 'CAM_BACK.jpg')).astype(np.float32)
    np.testing.assert_array_equal(results['img'][CAMERAS.index('CAM_BACK')], expected)


def test_missing_image_names_the_camera_and_file(tmp_path):
    results = camera_results(tmp_path)
    os.remove(tmp_path / 'CAM_BACK_LEFT.jpg')
    with pytest.raises(MissingFileError, match=r'CAM_BACK_LEFT image not found: .*'
                       r'CAM_BACK_LEFT.jpg \(token sample-token-7\)'):
        load_images(results)


@pytest.mark.parametrize('corrupt', ['empty', 'garbage', 'header only'])
def test_corrupt_image_names_the_camera_and_file(tmp_path, corrupt):
    results = camera_results(tmp_path)
    path = tmp_path / 'CAM_FRONT_RIGHT.jpg'
    data = path.read_bytes()
    path.write_bytes({'empty': b'', 'garbage': b'not a jpeg at all' * 10,
                      'header only': data[:20]}[corrupt])
    with pytest.raises(CorruptFileError, match=r'CAM_FRONT_RIGHT image .*CAM_FRONT_RIGHT.jpg '
                       r'does not decode'):
        load_images(results)


def test_sample_with_five_cameras_is_refused_by_the_loader(tmp_path):
    results = camera_results(tmp_path, CAMERAS[:5])
    with pytest.raises(SampleLayoutError, match=r'token sample-token-7 has 5 cameras .*'
                       r'expected num_views=6'):
        load_images(results)


# ---------------------------------------------------------------------------------------------
# info files, samples, data roots
# ---------------------------------------------------------------------------------------------
def test_good_info_file_builds(tmp_path):
    mmengine.dump(dict(metainfo=nuscenes_metainfo(), data_list=[info_sample(0), info_sample(1)]),
                  str(tmp_path / 'infos.pkl'))
    dataset = build_dataset(tmp_path)
    assert len(dataset) == 2
    assert dataset.get_data_info(1)['images']['CAM_BACK']['img_path'] == osp.join(
        str(tmp_path), COMMON.data_prefix['CAM_BACK'], 'CAM_BACK_1.jpg')


def test_mmdet3d_0x_info_file_is_named_as_such(tmp_path):
    old = dict(infos=[dict(lidar_path='x.pcd.bin', token='t', cams={})],
               metadata=dict(version='v1.0-mini'))
    mmengine.dump(old, str(tmp_path / 'infos.pkl'))
    with pytest.raises(InfoFileError, match=r'infos.pkl is an mmdet3d 0.x info file \(keys '
                       r"\['infos', 'metadata'\]\).*tools/create_data.py"):
        build_dataset(tmp_path)
    mmengine.dump([info_sample(0)], str(tmp_path / 'infos.pkl'))
    with pytest.raises(InfoFileError, match='infos.pkl holds a list'):
        build_dataset(tmp_path)


def test_info_file_of_another_dataset_is_refused(tmp_path):
    kitti = dict(
        metainfo=dict(categories=dict(Pedestrian=0, Cyclist=1, Car=2), dataset='kitti',
                      info_version='1.1'),
        data_list=[dict(sample_idx=0, images=dict(CAM2=dict(img_path='000000.png')),
                        lidar_points=dict(num_pts_feats=4, lidar_path='000000.bin'),
                        instances=[])])
    mmengine.dump(kitti, str(tmp_path / 'infos.pkl'))
    with pytest.raises(InfoFileError, match=r"infos.pkl is of the 'kitti' dataset"):
        build_dataset(tmp_path)
    kitti['data_list'] = []  # refused before any sample is parsed, too
    mmengine.dump(kitti, str(tmp_path / 'infos.pkl'))
    with pytest.raises(InfoFileError, match="'kitti'"):
        build_dataset(tmp_path)
    lyft_like = dict(metainfo=dict(nuscenes_metainfo(), categories=dict(car=0, truck=1)),
                     data_list=[info_sample(0)])
    mmengine.dump(lyft_like, str(tmp_path / 'infos.pkl'))
    with pytest.raises(InfoFileError,
                       match=r"lack the configured classes \['construction_vehicle', 'bus'"):
        build_dataset(tmp_path)


def test_sample_with_five_cameras_is_refused_when_the_dataset_is_built(tmp_path):
    samples = [info_sample(0), info_sample(1, CAMERAS[:3] + CAMERAS[4:]), info_sample(2)]
    mmengine.dump(dict(metainfo=nuscenes_metainfo(), data_list=samples),
                  str(tmp_path / 'infos.pkl'))
    with pytest.raises(SampleLayoutError, match=rf"sample 1 \(token token-1\) has 5 cameras .*"
                       rf"missing \['{CAMERAS[3]}'\]"):
        build_dataset(tmp_path)


def test_missing_data_root_and_info_file_are_named(tmp_path):
    with pytest.raises(MissingFileError, match=r"data_root '.*nowhere' does not exist"):
        build_dataset(tmp_path / 'nowhere')
    with pytest.raises(MissingFileError, match=r'info file \(ann_file\) not found: .*none.pkl'):
        build_dataset(tmp_path, 'none.pkl')


def test_config_naming_a_missing_data_root_fails_before_the_tool_writes(tmp_path):
    root = str(tmp_path / 'no_data') + '/'
    with pytest.raises(MissingFileError, match=r"train_dataloader.dataset.data_root "
                       r"'.*no_data/' does not exist"):
        check_tool_inputs('train.py', [TEACHER, '--cfg-options',
                                       f'train_dataloader.dataset.data_root={root}'])
    data_root = tmp_path / 'data'
    data_root.mkdir()
    (data_root / 'nuscenes_infos_train.pkl').touch()
    with pytest.raises(MissingFileError, match=r"test_evaluator.ann_file '.*val.pkl' does not"):
        check_tool_inputs('test.py', [TEACHER, 'never_read.pth', '--cfg-options',
                                      f'test_dataloader.dataset.data_root={data_root}/',
                                      f'test_dataloader.dataset.ann_file={data_root}/'
                                      'nuscenes_infos_train.pkl',
                                      f'test_evaluator.data_root={data_root}/',
                                      f'test_evaluator.ann_file={data_root}/val.pkl'])
    # Checkpoints the run starts from (the data paths all exist): the distiller's teacher,
    # load_from, test.py's CHECKPOINT.
    (data_root / 'nuscenes_infos_val.pkl').touch()
    data = data_options(dict(root=f'{data_root}/', val=f'{data_root}/nuscenes_infos_val.pkl'))
    check_tool_inputs('train.py', [TEACHER, '--cfg-options', *data])  # all there: no error
    with pytest.raises(MissingFileError, match=r"model.teacher_ckpt '.*no_teacher.pth' does not"):
        check_tool_inputs('train.py', [DISTILLER, '--cfg-options', *data,
                                       f'model.teacher_ckpt={tmp_path}/no_teacher.pth'])
    with pytest.raises(MissingFileError, match=r"load_from '.*no_init.pth' does not exist"):
        check_tool_inputs('train.py', [TEACHER, '--cfg-options', *data,
                                       f'load_from={tmp_path}/no_init.pth'])
    with pytest.raises(MissingFileError, match=r"CHECKPOINT '.*gone.pth' does not exist"):
        # parsed by mmdet3d's own parse_args: options may come before the positionals
        check_tool_inputs('test.py', ['--work-dir', str(tmp_path / 'w'), TEACHER,
                                      str(tmp_path / 'gone.pth'), '--cfg-options', *data])
    # The real tool: the error, and no work dir (mmengine's runner would create it first).
    work_dir = tmp_path / 'work_dir'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', TEACHER, '--work-dir', str(work_dir), '--cfg-options',
         f'train_dataloader.dataset.data_root={root}'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'MissingFileError: train_dataloader.dataset.data_root' in proc.stderr, proc.stderr
    assert not work_dir.exists()


# ---------------------------------------------------------------------------------------------
# checkpoints and distiller configs
# ---------------------------------------------------------------------------------------------
def test_teacher_checkpoint_of_another_architecture_lists_every_mismatch(tmp_path):
    from simdistill.models.distillers.teacher import load_teacher_weights
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Linear(2, 2))
    path = str(tmp_path / 'other_arch.pth')
    torch.save({'state_dict': other.state_dict()}, path)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_teacher_weights(teacher, path)
    message = str(info.value)
    assert isinstance(info.value, KeyError) and not message.startswith("'")
    for part in (path, '5 missing [1.bias, 1.num_batches_tracked, 1.running_mean, 1.running_var'
                 ', 1.weight]', '2 unexpected [2.bias, 2.weight]', '2 mis-shaped [0.bias: '
                 'checkpoint (8,) vs model (4,), 0.weight: checkpoint (8, 3, 3, 3) vs model '
                 '(4, 3, 3, 3)]'):
        assert part in message, message
    for key, value in teacher.state_dict().items():  # nothing was loaded
        assert torch.equal(value, before[key]), key


def distiller_model_cfg():
    return drop_image_pretrain(Config.fromfile(DISTILLER).model)


def test_distiller_with_teacher_and_student_on_other_grids_names_both_shapes():
    from simdistill.models.distillers.simdistill import SimDistill
    from simdistill.models.distillers.teacher import teacher_model_cfg
    model = distiller_model_cfg()
    teacher = teacher_model_cfg(model.teacher)
    SimDistill.check_compatible(model.student, teacher)  # the config as shipped is consistent
    student = model.student
    for vt in (student.view_transform, student.sim_lidar_view_transform):
        vt.update(xbound=[-51.2, 51.2, 1.6], ybound=[-51.2, 51.2, 1.6])
    student.bbox_head.train_cfg.update(grid_size=[64, 64, 1], voxel_size=[1.6, 1.6, 8.0])
    with pytest.raises(ConfigMismatchError, match=r'student fused BEV is \(64, 64\) .*teacher '
                       r'fused BEV is \(128, 128\)'):
        SimDistill.check_compatible(student, teacher)


def test_distiller_with_a_student_class_the_teacher_lacks_names_the_class():
    from simdistill.models.distillers.prediction_distill import task_class_indices
    from simdistill.models.distillers.teacher import teacher_model_cfg
    model = distiller_model_cfg()
    teacher_classes = [c for t in teacher_model_cfg(model.teacher).bbox_head.tasks
                       for c in t.class_names]
    student_tasks = [dict(t) for t in model.student.bbox_head.tasks]
    assert task_class_indices(student_tasks, teacher_classes)[1] == (1, 2)
    student_tasks[1] = dict(num_class=2, class_names=['truck', 'ambulance'])
    with pytest.raises(ConfigMismatchError, match=r"student classes \['ambulance'\] are not "
                       r"teacher classes"):
        task_class_indices(student_tasks, teacher_classes)


# ---------------------------------------------------------------------------------------------
# results files the devkit rejects
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def metric_and_results(nuscenes_infos, tmp_path_factory):
    """The configs' metric on the synthetic val split, a results file that the devkit accepts
    (every ground-truth box of the split as a prediction, score 0.9), the results folder and
    the classes the devkit evaluates (those with ground truth left after its filters)."""
    from mmdet3d.registry import METRICS
    from nuscenes import NuScenes
    from nuscenes.eval.common.loaders import add_center_dist, filter_eval_boxes, load_gt
    from nuscenes.eval.detection.data_classes import DetectionBox
    cfg = Config.fromfile(TEACHER)
    metric = METRICS.build(dict(cfg.test_evaluator, data_root=nuscenes_infos['root'],
                                ann_file=nuscenes_infos['val']))
    metric.dataset_meta = dict(classes=cfg.class_names, version='v1.0-mini')
    nusc = NuScenes('v1.0-mini', nuscenes_infos['root'], verbose=False)
    gt = load_gt(nusc, 'mini_val', DetectionBox, verbose=False)
    results = {token: [dict(box.serialize(), detection_score=0.9, attribute_name='')
                       for box in gt[token]] for token in gt.sample_tokens}
    results = json.loads(json.dumps(results, default=lambda a: a.tolist()))  # numpy velocities
    # The classes the devkit keeps ground truth of (range, LiDAR points, bike racks).
    kept = filter_eval_boxes(nusc, add_center_dist(nusc, gt),
                             metric.eval_detection_configs.class_range)
    evaluated = {box.detection_name for token in kept.sample_tokens for box in kept[token]}
    folder = tmp_path_factory.mktemp('results')
    return (metric, dict(meta=dict(use_camera=True, use_lidar=False), results=results), folder,
            evaluated)


def evaluate(metric_and_results, results, name):
    metric, _, folder, _ = metric_and_results
    path = folder / name / 'results_nusc.json'
    path.parent.mkdir()
    path.write_text(results if isinstance(results, str) else json.dumps(results))
    return str(path), metric.evaluate_results_file(str(path))


def evaluate_with_the_tool(nuscenes_infos, path):
    """``python tools/evaluate_results.py TEACHER path`` on the synthetic data, in-process."""
    argv = sys.argv
    sys.argv = ['evaluate_results.py', TEACHER, str(path), '--cfg-options',
                f'test_evaluator.data_root={nuscenes_infos["root"]}',
                f'test_evaluator.ann_file={nuscenes_infos["val"]}']
    try:
        runpy.run_path(osp.join(ROOT, 'tools', 'evaluate_results.py'), run_name='__main__')
    finally:
        sys.argv = argv


def test_results_file_the_devkit_accepts_scores_the_ground_truth_perfectly(
        metric_and_results, nuscenes_infos):
    _, good, folder, evaluated = metric_and_results
    path = folder / 'good' / 'results_nusc.json'
    path.parent.mkdir()
    path.write_text(json.dumps(good))
    evaluate_with_the_tool(nuscenes_infos, path)
    metrics = json.loads((folder / 'good' / 'metrics.json').read_text())
    assert len(evaluated) >= 5
    for name in Config.fromfile(TEACHER).class_names:  # the devkit gives absent classes AP 0
        ap = metrics[f'pred_instances_3d_NuScenes/{name}_AP_dist_0.5']
        assert ap == pytest.approx(1.0 if name in evaluated else 0.0), name
    # The same file with one box's rotation dropped: refused by the tool, nothing written.
    bad = json.loads(json.dumps(good))
    token = sorted(bad['results'])[0]
    del bad['results'][token][0]['rotation']
    path = folder / 'bad_by_tool' / 'results_nusc.json'
    path.parent.mkdir()
    path.write_text(json.dumps(bad))
    with pytest.raises(ResultsFileError, match=rf"{path}: results\['{token}'\]\[0\] lacks "
                       "the key 'rotation'"):
        evaluate_with_the_tool(nuscenes_infos, path)
    assert os.listdir(path.parent) == ['results_nusc.json']


def test_results_files_the_devkit_rejects_name_the_file_sample_and_key(metric_and_results):
    good = metric_and_results[1]
    token = sorted(good['results'])[1]
    no_rotation = json.loads(json.dumps(good))
    del no_rotation['results'][token][0]['rotation']
    bad_name = json.loads(json.dumps(good))
    bad_name['results'][token][0]['detection_name'] = 'spaceship'
    missing_sample = json.loads(json.dumps(good))
    del missing_sample['results'][token]
    cases = {
        'no_rotation': (no_rotation, rf"results\['{token}'\]\[0\] lacks the key 'rotation'"),
        'bad_name': (bad_name, rf"results\['{token}'\]\[0\]: AssertionError: Error: Unknown "
                     r'detection_name spaceship'),
        'missing_sample': (missing_sample, r'the samples predicted are not exactly those of '
                           r'the v1.0-mini evaluation split'),
        'no_results_key': (dict(meta=good['meta']), r'the top level needs a "results" dict '
                           r"and a \"meta\" dict, has \['meta'\]"),
        'not_json': ('{"results": {', r'results_nusc.json: not valid JSON'),
    }
    folder = metric_and_results[2]
    for name, (results, reason) in cases.items():
        with pytest.raises(ResultsFileError) as info:
            evaluate(metric_and_results, results, name)
        message = str(info.value)
        assert f'{folder / name}/results_nusc.json' in message, message
        assert re.search(reason, message), (name, message)
        assert isinstance(info.value, (InputError, ValueError))
        assert os.listdir(folder / name) == ['results_nusc.json'], name  # no metrics written


def test_relative_paths_resolve_as_the_runner_resolves_them(tmp_path, monkeypatch):
    """A dataset joins a relative ann_file to its data_root; NuScenesMetric opens its ann_file
    as given (relative to the working directory), as tools/run_pipeline.sh passes it."""
    from simdistill.entrypoints.inputs import check_config_inputs
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data' / 'nuscenes').mkdir(parents=True)
    for split in ('train', 'val'):
        (tmp_path / 'data' / 'nuscenes' / f'nuscenes_infos_{split}.pkl').touch()
    cfg = Config(dict(
        val_cfg=dict(),
        val_dataloader=dict(dataset=dict(data_root='data/nuscenes/',
                                         ann_file='nuscenes_infos_val.pkl')),
        val_evaluator=dict(data_root='data/nuscenes/',
                           ann_file='data/nuscenes/nuscenes_infos_val.pkl')))
    check_config_inputs(cfg, ('val_dataloader', 'val_evaluator'))  # both exist: no error
    cfg.val_evaluator.ann_file = 'nuscenes_infos_val.pkl'  # the metric would not find it
    with pytest.raises(MissingFileError, match=r"val_evaluator.ann_file 'nuscenes_infos_val"):
        check_config_inputs(cfg, ('val_dataloader', 'val_evaluator'))
