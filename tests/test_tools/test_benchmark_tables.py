"""The distillation-gain benchmark's tables: per-seed values, mean +- spread, the gain lines."""
import os.path as osp
import sys

import pytest

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import distill_gain  # noqa: E402


def run(name, seed, m_ap, nds):
    metrics = {m: 0.5 for m in distill_gain.METRICS}
    metrics.update(mAP=m_ap, NDS=nds)
    return dict(name=name, seed=seed, config='c.py', options=[], train_wall_s=600.0,
                metrics=metrics)


def test_summary_keeps_one_value_per_seed_and_the_table_states_gain_and_gap():
    runs = [run('teacher', 0, 0.50, 0.50), run('camera_baseline', 0, 0.10, 0.20),
            run('camera_baseline', 1, 0.14, 0.22), run('simdistill', 0, 0.20, 0.30),
            run('simdistill', 1, 0.22, 0.28)]
    summary = distill_gain.summarise(runs, epochs=12, seeds=[0, 1])
    assert summary['models']['camera_baseline']['mAP'] == [0.10, 0.14]
    assert summary['models']['simdistill']['seeds'] == [0, 1]
    table = distill_gain.markdown(summary)
    assert '| camera_baseline | 2 | 0.1200 (0.1000, 0.1400) | 0.2100 (0.2000, 0.2200) |' in table
    # gain 0.21 - 0.12 = +9.0 points; largest spread 4.0 (< 9.0 / 2); gap 0.38 -> 24 %
    assert 'mAP difference SimDistill − camera baseline: +9.0 points (largest seed spread ' \
           '4.0: above twice the spread)' in table
    assert 'NDS difference SimDistill − camera baseline: +8.0 points (largest seed spread ' \
           '2.0: above twice the spread)' in table
    assert 'gap closed: 24 %' in table
    single = distill_gain.markdown(distill_gain.summarise(runs[:2] + runs[3:4], 12, [0]))
    assert 'no spread measured, not a gain yet' in single


def test_the_plan_runs_the_teacher_stages_first_and_every_ablation_once():
    runs = distill_gain.plan([0, 1, 2], 'teacher.pth', 'lidar.pth')
    names = [r[0] for r in runs]
    assert names[:2] == ['teacher_lidar', 'teacher']
    assert runs[0][1] == distill_gain.LIDAR_ONLY
    recipe = distill_gain.CAMERA_RECIPE
    assert recipe  # the measured lever: every run with images after the lever runs has it
    # fusion starts from the LiDAR-only model; the LiDAR-only stage has no image branch
    assert runs[1][3] == ['load_from=lidar.pth', *distill_gain.TEACHER_RECIPE]
    assert runs[0][3] == []
    assert names.count('camera_baseline') == names.count('simdistill') == 3
    # paired: seed by seed, the baseline and the student one after the other
    assert [r[2] for r in runs[2:8]] == [0, 0, 1, 1, 2, 2]
    for ablation in distill_gain.ABLATIONS:
        assert names.count(ablation) == 1
    student_only = next(r for r in runs if r[0] == 'student_without_distillation')
    assert student_only[1] == distill_gain.STUDENT and student_only[3] == recipe
    # the recipe reaches the camera model: the distiller's is its student
    for name, config, _, options in runs[2:]:
        cfg = distill_gain.resolved_config(config, [o for o in options
                                                    if not o.startswith('model.teacher_ckpt')])
        camera = cfg.model.get('student', cfg.model)
        assert camera.img_backbone.frozen_stages == 4 and camera.img_backbone.norm_eval, name
        assert 'img_backbone' not in cfg.model or 'student' not in cfg.model, name
    no_lidar = next(r for r in runs if r[0] == 'no_distill_lidar')
    assert 'model.teacher_ckpt=teacher.pth' in no_lidar[3]
    assert 'model.loss_distill_lidar=None' in no_lidar[3]
    assert not any(r[0] in distill_gain.ABLATIONS
                   for r in distill_gain.plan([0], 't.pth', 'l.pth', ablations=False))


def test_lever_runs_follow_the_teacher_and_precede_the_comparison():
    runs = distill_gain.plan([3, 4], 'teacher.pth', 'lidar.pth', ablations=False, levers=True)
    names = [r[0] for r in runs]
    levers = list(distill_gain.LEVERS)
    assert names[2:2 + len(levers)] == levers and names[2 + len(levers)] == 'camera_baseline'
    for name, config, seed, options in runs[2:2 + len(levers)]:
        assert config == distill_gain.BASELINE and seed == 3  # the first seed only
        assert options == distill_gain.LEVERS[name]
    assert distill_gain.LEVERS['lever_reference'] == []  # the baseline unchanged beside them
    assert not any(n in distill_gain.LEVERS for n in
                   (r[0] for r in distill_gain.plan([0], 't.pth', 'l.pth', ablations=False)))


def test_the_comparison_lines_state_the_paired_difference_and_its_interval():
    summary = distill_gain.summarise(
        [run('teacher', 0, 0.5, 0.5), run('camera_baseline', 0, 0.10, 0.20),
         run('simdistill', 0, 0.14, 0.21)], epochs=12, seeds=[0])
    summary['models']['camera_baseline']['intervals'] = {'mAP': [0.08, 0.12]}
    summary['comparison'] = {
        m: dict(mean=0.04, interval=[0.01, 0.07], per_seed=[0.04]) for m in ('mAP', 'NDS', 'car_AP')}
    summary['comparison']['gap_closed'] = dict(mean=0.1, interval=[0.02, 0.18])
    table = distill_gain.markdown(summary)
    assert '| camera_baseline | 1 | 0.1000 [0.0800, 0.1200] | 0.2000 |' in table
    assert ('- mAP difference SimDistill − camera baseline (paired seeds): +4.0 points, 95 % '
            'interval [+1.0, +7.0]') in table
    assert 'gap closed: 10 % [2, 18]' in table
    # +4.0 [+1.0, +7.0] but 10 % of the gap (< 25 %): not met, +3.0 inside the interval
    assert ('- goal (≥ +3.0 mAP points with the interval above 0, ≥ 25 % of the gap closed): '
            'not met; a +3.0-point gain is inside the interval (not decided)') in table


@pytest.mark.parametrize('mean, interval, gap, met, excluded', [
    (0.040, [0.010, 0.070], 0.30, True, False),    # every condition holds
    (0.040, [0.010, 0.070], 0.24, False, False),   # the gap share is short
    (0.040, [-0.001, 0.070], 0.30, False, False),  # the interval reaches 0
    (0.029, [0.010, 0.070], 0.30, False, False),   # the mean is short of +3.0
    (0.003, [-0.010, 0.015], 0.01, False, True),   # the interval lies below +3.0
    (0.003, [-0.010, 0.030], 0.01, False, False),  # +3.0 is the upper bound itself
])
def test_the_goal_verdict_needs_every_condition_and_says_when_the_interval_rules_it_out(
        mean, interval, gap, met, excluded):
    comparison = dict(mAP=dict(mean=mean, interval=interval),
                      gap_closed=dict(mean=gap, interval=[0, 1]))
    verdict = distill_gain.goal_verdict(comparison)
    assert (verdict['met'], verdict['excluded']) == (met, excluded)
    line = distill_gain.goal_line(comparison)
    if excluded:
        assert line.endswith(f"not met; the interval's upper bound ({100 * interval[1]:+.1f}) "
                             'rules out a +3.0-point gain')
    assert line.endswith(': met') == met


def test_a_recorded_run_is_reused_only_for_the_same_config_options_and_teacher(tmp_path):
    import torch
    weights = {'w': torch.arange(6.0).view(2, 3)}
    a, b, c = (str(tmp_path / n) for n in ('a.pth', 'b.pth', 'c.pth'))
    torch.save({'state_dict': weights, 'meta': {'time': 1}}, a)
    torch.save(weights, b)  # same tensors, another path and container
    torch.save({'w': weights['w'] + 1}, c)
    options = ['randomness.seed=0', *distill_gain.schedule_options(12)]
    fp = distill_gain.run_fingerprint(distill_gain.DISTILLER,
                                      options + [f'model.teacher_ckpt={a}'], a)
    assert fp == distill_gain.run_fingerprint(distill_gain.DISTILLER,
                                              options + [f'model.teacher_ckpt={b}'], b)
    assert fp != distill_gain.run_fingerprint(distill_gain.DISTILLER,
                                              options + [f'model.teacher_ckpt={c}'], c)
    assert fp != distill_gain.run_fingerprint(
        distill_gain.DISTILLER, options + ['model.loss_distill_fused=None'], a)
    record = dict(run('simdistill', 0, 0.3, 0.3), fingerprint=fp)
    # a matching record is returned without training (nothing is run or written)
    got = distill_gain.train_and_test('simdistill', distill_gain.DISTILLER, 0,
                                      [f'model.teacher_ckpt={b}'], str(tmp_path / 'out'), 12,
                                      reuse=[record])
    assert got is record and not (tmp_path / 'out').exists()


def test_a_run_of_other_code_or_other_data_is_another_run(tmp_path, monkeypatch):
    code = tmp_path / 'code'
    code.mkdir()
    (code / 'module.py').write_text('x = 1\n')
    before = distill_gain.code_fingerprint(str(code))
    (code / 'module.py').write_text('x = 2\n')
    assert distill_gain.code_fingerprint(str(code)) != before
    (code / '__pycache__').mkdir()
    (code / '__pycache__' / 'module.pyc').write_bytes(b'cache')
    after = distill_gain.code_fingerprint(str(code))
    assert after == distill_gain.code_fingerprint(str(code))
    # ONNX export does not run in a training...
    (code / 'deployment').mkdir(parents=True)
    (code / 'deployment' / 'export.py').write_text('opset = 17\n')
    assert distill_gain.code_fingerprint(str(code)) == after
    # ...the dataset classes do
    (code / 'datasets').mkdir()
    (code / 'datasets' / 'nuscenes_dataset.py').write_text('checked = True\n')
    assert distill_gain.code_fingerprint(str(code)) != after
    root = tmp_path / 'data'
    root.mkdir()
    infos = {name: root / name for name in ('train.pkl', 'val.pkl')}
    for path in infos.values():
        path.write_bytes(b'infos')
    options = [f'train_dataloader.dataset.data_root={root}/',
               'train_dataloader.dataset.ann_file=train.pkl',
               f'val_evaluator.ann_file={infos["val.pkl"]}']
    first = distill_gain.data_fingerprint(distill_gain.BASELINE, options)
    infos['val.pkl'].write_bytes(b'other world')
    assert distill_gain.data_fingerprint(distill_gain.BASELINE, options) != first


def test_learning_curves_draw_every_run_and_branch(tmp_path, monkeypatch):
    """The picture's series are the runs' curves (camera and simulated-LiDAR depth apart); a
    model scored once (the teacher) is a level line; write_tables writes it beside the table."""
    import numpy as np
    from PIL import Image
    baseline = dict(run('camera_baseline', 0, 0.08, 0.2),
                    curve=[dict(epoch=4, mAP=0.08, depth_within_1m=0.30),
                           dict(epoch=2, mAP=0.03, depth_within_1m=0.20)])
    student = dict(run('simdistill', 0, 0.1, 0.2),
                   curve=[dict(epoch=2, mAP=0.04, depth_within_1m=0.25,
                               sim_lidar_depth_within_1m=0.35),
                          dict(epoch=4, mAP=0.10, depth_within_1m=0.33,
                               sim_lidar_depth_within_1m=0.41)])
    teacher = dict(run('teacher', 0, 0.45, 0.4), curve=[dict(epoch=6, mAP=0.45)])
    summary = dict(distill_gain.summarise([baseline, student, teacher], 4, [0]),
                   test_set=dict(scenes=32, samples=320, objects=753))
    distill_gain.write_tables(summary, str(tmp_path))
    image = np.asarray(Image.open(tmp_path / 'learning_curves.png'))
    assert image.shape[0] > 400 and image.shape[1] > 1200 and image.std() > 10
    assert not (tmp_path / 'lever_curves.png').exists()  # no lever runs, no lever picture
    from simdistill.visualization import benchmark
    drawn = {}
    monkeypatch.setattr(benchmark, 'save_learning_curves',
                        lambda path, runs, title: drawn.update({title: [r['name'] for r in runs]}))
    lever = dict(run('lever_reference', 0, 0.01, 0.1), curve=[dict(epoch=2, mAP=0.0)])
    distill_gain.write_tables(dict(summary, runs=[lever, *summary['runs']]), str(tmp_path))
    assert drawn == {  # the levers apart from the comparison
        'distill_gain: test set of 753 objects, 32 scenes': ['camera_baseline', 'simdistill',
                                                             'teacher'],
        'Camera-baseline levers: seed 0, test set of 753 objects, 32 scenes': ['lever_reference']}
    from simdistill.visualization.benchmark import curve_series
    assert curve_series(summary['runs'], 'mAP') == {
        'camera_baseline seed 0': ([2, 4], [0.03, 0.08]),
        'simdistill seed 0': ([2, 4], [0.04, 0.10]),
        'teacher seed 0': ([6], [0.45])}
    assert curve_series(summary['runs'], 'depth_within_1m') == {
        'camera_baseline seed 0': ([2, 4], [0.20, 0.30]),
        'simdistill seed 0': ([2, 4], [0.25, 0.33]),
        'simdistill seed 0 (sim. LiDAR)': ([2, 4], [0.35, 0.41])}


def test_a_finished_run_survives_a_code_change_and_the_table_says_so(tmp_path, monkeypatch):
    """The fingerprint leaves the plugin's code out; a run recorded under the old rule (code in
    the fingerprint) is recognised by its recorded code and upgraded; another config is not."""
    options = ['randomness.seed=0', *distill_gain.schedule_options(4)]
    legacy = distill_gain.run_fingerprint(distill_gain.BASELINE, options, None, code='abc')
    work = tmp_path / 'out' / 'runs' / 'camera_baseline_seed0'
    work.mkdir(parents=True)
    record = dict(run('camera_baseline', 0, 0.1, 0.2), fingerprint=legacy, code='abc')
    (work / 'metrics.json').write_text(__import__('json').dumps(record))
    got = distill_gain.train_and_test('camera_baseline', distill_gain.BASELINE, 0, [],
                                      str(tmp_path / 'out'), 4)
    assert got['metrics'] == record['metrics']
    assert got['fingerprint'] == distill_gain.run_fingerprint(distill_gain.BASELINE, options,
                                                              None) != legacy
    import pytest
    with pytest.raises(RuntimeError, match='another config'):
        distill_gain.train_and_test('camera_baseline', distill_gain.BASELINE, 0,
                                    ['model.loss_distill_fused=None'], str(tmp_path / 'out'), 4)
    other = dict(run('simdistill', 0, 0.1, 0.2), code='def')
    table = distill_gain.markdown(distill_gain.summarise([got, other], 4, [0]))
    assert 'made by 2 versions of the plugin code' in table


def test_diagnostic_hooks_are_added_to_the_config_not_in_place_of_its_hooks(tmp_path):
    """The derived config holds the base config's hooks and the added one, nothing else
    changes, it is another run (its fingerprint), and writing it again changes nothing."""
    hooks = distill_gain.DIAGNOSTIC_HOOKS
    path = distill_gain.config_with_hooks(distill_gain.BASELINE, hooks, str(tmp_path))
    assert osp.dirname(path) == str(tmp_path / 'config')  # not where the runner dumps its own
    base = distill_gain.resolved_config(distill_gain.BASELINE, []).to_dict()
    derived = distill_gain.resolved_config(path, []).to_dict()
    assert derived.pop('custom_hooks') == base.pop('custom_hooks') + [dict(h) for h in hooks]
    assert derived == base
    assert (distill_gain.config_fingerprint(path, []) !=
            distill_gain.config_fingerprint(distill_gain.BASELINE, []))
    stamp = osp.getmtime(path)
    assert distill_gain.config_with_hooks(distill_gain.BASELINE, hooks, str(tmp_path)) == path
    assert osp.getmtime(path) == stamp


def test_gradient_table_reads_the_runs_diagnostics():
    baseline = dict(name='camera_baseline', seed=0, gradients={
        'steps': 40, 'grad_norm': 12.0, 'clipped_share': 0.0, 'clip_factor': 1.0,
        'gradnorm.camera_bev.detection': 0.5})
    student = dict(name='simdistill', seed=0, gradients={
        'steps': 40, 'grad_norm': 70.0, 'clipped_share': 0.9, 'clip_factor': 0.5,
        'gradnorm.sim_lidar_bev.detection': 0.25, 'gradnorm.sim_lidar_bev.total': 4.0})
    lines = distill_gain.gradient_lines([baseline, student, dict(name='teacher', seed=0)])
    assert '| camera_baseline | 0 | 40 | 12 | 0 | 1 | 0.5 / 0.5 |  |  |' in lines
    assert '| simdistill | 0 | 40 | 70 | 0.9 | 0.5 |  | 0.25 / 4 |  |' in lines
    assert not any('| teacher |' in line for line in lines)
    assert distill_gain.gradient_lines([dict(name='teacher', seed=0)]) == []


def test_tables_are_rewritten_after_a_run_that_trains_not_after_each_finished_one(
        tmp_path, monkeypatch):
    """A restarted benchmark re-scores its tables (1000 bootstrap replicates per model) once
    before it trains and after each run it trains, not after every run found finished."""
    out = tmp_path / 'out'
    for name in ('teacher_lidar', 'teacher'):  # finished by an earlier invocation
        (out / 'runs' / f'{name}_seed0').mkdir(parents=True)
        (out / 'runs' / f'{name}_seed0' / 'metrics.json').write_text('{}')
    trained, rewritten_after = [], []

    def fake_train_and_test(name, config, seed, *args, **kwargs):
        if not distill_gain.finished(str(out), name, seed):
            trained.append(name)
            (out / 'runs' / f'{name}_seed{seed}').mkdir(parents=True)
            (out / 'runs' / f'{name}_seed{seed}' / 'metrics.json').write_text('{}')
        return dict(name=name, seed=seed)

    def fake_write_tables(summary, folder):
        rewritten_after.append(summary['last'])
        (out / 'distill_gain.md').write_text('table')

    monkeypatch.setattr(distill_gain, 'release_version', lambda root: 'v1.0-trainval')
    monkeypatch.setattr(distill_gain, 'release_cfg_options', lambda root, version: [])
    monkeypatch.setattr(distill_gain, 'test_set_size', lambda root, version: {})
    monkeypatch.setattr(distill_gain, 'pretrain_options', lambda config, ckpt: [])
    monkeypatch.setattr(distill_gain, 'test_options', lambda config, threshold: [])
    monkeypatch.setattr(distill_gain, 'train_and_test', fake_train_and_test)
    monkeypatch.setattr(distill_gain, 'summarise', lambda runs, *a: dict(last=runs[-1]['name']))
    monkeypatch.setattr(distill_gain, 'scene_bootstraps', lambda *a: {})
    monkeypatch.setattr(distill_gain, 'add_intervals', lambda summary, *a, **k: summary)
    monkeypatch.setattr(distill_gain, 'write_tables', fake_write_tables)
    distill_gain.main(['--out', str(out), '--data-root', str(tmp_path), '--seeds', '0'])
    assert trained == ['camera_baseline', 'simdistill']
    # before the first training (after the last finished run), then after each trained run
    assert rewritten_after == ['teacher', 'camera_baseline', 'simdistill']
    trained.clear(), rewritten_after.clear()
    distill_gain.main(['--out', str(out), '--data-root', str(tmp_path), '--seeds', '0'])
    assert trained == [] and rewritten_after == ['simdistill']  # all finished: once, at the end
    # --tables-only trains nothing: the seed 1 runs are left out, the tables rewritten once
    trained.clear(), rewritten_after.clear()
    distill_gain.main(['--out', str(out), '--data-root', str(tmp_path), '--seeds', '0', '1',
                       '--tables-only'])
    assert trained == [] and rewritten_after == ['simdistill']


class ScoredEvaluation:
    """Stands in for a SceneBootstrap: the same metric value on every scene resample."""

    def __init__(self, value):
        self.scenes, self.value = ['s0', 's1', 's2'], value

    def metrics(self, scene_indices):
        return {'mAP': self.value, 'NDS': self.value, 'car_AP': self.value}


def test_the_paired_difference_uses_the_seeds_both_models_have():
    """The baseline a seed ahead of the student (the benchmark runs them in turn): the difference
    and its interval are over seed 0 alone, not the student's seed 0 against both baselines."""
    runs = [run('teacher', 0, 0.5, 0.5), run('camera_baseline', 0, 0.08, 0.2),
            run('camera_baseline', 1, 0.06, 0.2), run('simdistill', 0, 0.07, 0.2)]
    for r in runs:
        r['metrics']['car_AP'] = r['metrics']['mAP']
    summary = distill_gain.summarise(runs, epochs=8, seeds=[0, 1])
    boots = {'teacher': [ScoredEvaluation(0.5)],
             'camera_baseline': [ScoredEvaluation(0.08), ScoredEvaluation(0.06)],
             'simdistill': [ScoredEvaluation(0.07)]}
    out = distill_gain.add_intervals(summary, boots, replicates=20)
    assert out['comparison']['seeds'] == [0]
    assert out['comparison']['mAP']['per_seed'] == pytest.approx([-0.01])
    assert out['comparison']['mAP']['interval'] == pytest.approx([-0.01, -0.01])
    assert out['comparison']['gap_closed']['mean'] == pytest.approx(-0.01 / 0.42)
    assert '(paired seeds 0): -1.0 points, 95 % interval [-1.0, -1.0]' in distill_gain.markdown(
        out)


def test_an_ablation_is_compared_paired_with_the_student_and_the_baseline_on_its_seed():
    """An ablation runs the first seed only: its differences to SimDistill and to the baseline
    are over seed 0, not against their means over every seed."""
    runs = [run('teacher', 0, 0.5, 0.5), run('camera_baseline', 0, 0.08, 0.2),
            run('camera_baseline', 1, 0.06, 0.2), run('simdistill', 0, 0.07, 0.2),
            run('simdistill', 1, 0.05, 0.2), run('student_without_distillation', 0, 0.075, 0.2)]
    for r in runs:
        r['metrics']['car_AP'] = r['metrics']['mAP']
    summary = distill_gain.summarise(runs, epochs=8, seeds=[0, 1])
    boots = {name: [ScoredEvaluation(v) for v in summary['models'][name]['mAP']]
             for name in summary['models']}
    out = distill_gain.add_intervals(summary, boots, replicates=20)
    ablation = out['ablations']['student_without_distillation']
    assert ablation['simdistill']['seeds'] == ablation['camera_baseline']['seeds'] == [0]
    assert ablation['simdistill']['mAP']['mean'] == pytest.approx(0.005)
    assert ablation['camera_baseline']['mAP']['interval'] == pytest.approx([-0.005, -0.005])
    assert out['comparison']['seeds'] == [0, 1]
    table = distill_gain.markdown(out)
    assert ('- student_without_distillation − SimDistill (paired seeds 0), points: mAP +0.5 '
            '[+0.5, +0.5]') in table
    assert '- student_without_distillation − the camera baseline (paired seeds 0), points: ' \
           'mAP -0.5 [-0.5, -0.5]' in table


def test_the_training_time_of_a_resumed_run_adds_up_its_sessions(tmp_path):
    """Each session's log from its first to its last timestamped line (a killed session until
    its last record); lines of a multi-line record and the evaluations' logs do not count."""
    sessions = {'20261207_144114': ('2026/12/07 14:41:14', '2026/12/07 14:48:18'),  # 424 s
                '20261207_152612': ('2026/12/07 15:26:12', '2026/12/07 16:17:09')}  # 3057 s
    for stamp, (first, last) in sessions.items():
        (tmp_path / stamp).mkdir()
        (tmp_path / stamp / f'{stamp}.log').write_text(
            f'{first} - mmengine - INFO - \nSystem environment:\n    sys.platform: linux\n'
            f'{last} - mmengine - INFO - Epoch(train) [8][260/260]  lr: 2.0e-05\n')
    (tmp_path / 'test_epoch8' / '20261207_162940').mkdir(parents=True)
    (tmp_path / 'test_epoch8' / '20261207_162940' / '20261207_162940.log').write_text(
        '2026/12/07 16:29:40 - mmengine - INFO - \n2026/12/07 16:32:00 - mmengine - INFO - \n')
    assert distill_gain.training_wall_seconds(str(tmp_path)) == 424 + 3057
    assert distill_gain.training_wall_seconds(str(tmp_path / 'nothing')) == 0


def test_a_finished_run_timed_by_its_last_session_only_gets_its_logged_time(tmp_path):
    """Records written before the sessions were added up: their training time is corrected from
    the logs when the benchmark finds them finished; a correct record is left as it is."""
    import json
    options = ['randomness.seed=0', *distill_gain.schedule_options(4)]
    work = tmp_path / 'out' / 'runs' / 'camera_baseline_seed0'
    for stamp, first, last in (('20261207_144114', '14:41:14', '14:48:18'),
                               ('20261207_152612', '15:26:12', '16:17:09')):
        (work / stamp).mkdir(parents=True)
        (work / stamp / f'{stamp}.log').write_text(
            f'2026/12/07 {first} - mmengine - INFO - \n2026/12/07 {last} - mmengine - INFO - \n')
    fingerprint = distill_gain.run_fingerprint(distill_gain.BASELINE, options, None)
    record = dict(run('camera_baseline', 0, 0.1, 0.2), fingerprint=fingerprint,
                  code=distill_gain.code_fingerprint(), train_wall_s=3070.0)  # the last session
    (work / 'metrics.json').write_text(json.dumps(record))
    got = distill_gain.train_and_test('camera_baseline', distill_gain.BASELINE, 0, [],
                                      str(tmp_path / 'out'), 4)
    assert got['train_wall_s'] == 424 + 3057
    assert json.loads((work / 'metrics.json').read_text())['train_wall_s'] == 424 + 3057
    record['train_wall_s'] = 3600.0  # a one-session run's timer (start-up included) stays
    (work / 'metrics.json').write_text(json.dumps(record))
    assert distill_gain.train_and_test('camera_baseline', distill_gain.BASELINE, 0, [],
                                       str(tmp_path / 'out'), 4)['train_wall_s'] == 3600.0
