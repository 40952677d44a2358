"""tools/benchmarks/carry_state.py: a benchmark's state saved on one machine and restored under
another folder continues as it was (finished runs with their predictions and starting weights,
an unfinished run from its exact checkpoint, the image pre-training)."""
import gzip
import json
import os
import os.path as osp
import sys

import numpy as np
import torch

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import carry_state  # noqa: E402
from distill_gain import teacher_weights_sha1, training_wall_seconds  # noqa: E402


def runner_checkpoint(path, seed):
    gen = torch.Generator().manual_seed(seed)
    weights = {'conv.weight': torch.randn(4, 3, generator=gen), 'conv.bias': torch.randn(4)}
    torch.save({'state_dict': weights, 'meta': {'epoch': 2, 'iter': 520},
                'optimizer': {'state': {0: {'exp_avg': torch.randn(4, 3)}}, 'param_groups': []}},
               path)


def fake_benchmark(out):
    """A teacher run finished at epoch 2, a baseline run stopped after epoch 1, a pre-training."""
    teacher = osp.join(out, 'runs', 'teacher_lidar_seed0')
    results = osp.join(teacher, 'test_epoch2', 'results', 'pred_instances_3d', 'results_nusc.json')
    os.makedirs(osp.dirname(results))
    with open(results, 'w') as f:
        json.dump({'results': {'token': [{'score': 0.5}]}, 'meta': {'use_lidar': True}}, f)
    runner_checkpoint(osp.join(teacher, 'epoch_2.pth'), 0)
    with open(osp.join(teacher, 'metrics.json'), 'w') as f:
        json.dump(dict(name='teacher_lidar', seed=0, fingerprint='abc', results=results,
                       checkpoint=osp.join(teacher, 'epoch_2.pth'), metrics={'mAP': 0.4}), f)
    baseline = osp.join(out, 'runs', 'camera_baseline_seed0')
    os.makedirs(baseline)
    runner_checkpoint(osp.join(baseline, 'epoch_1.pth'), 1)
    with open(osp.join(baseline, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(baseline, 'epoch_1.pth'))
    with open(osp.join(baseline, 'gradient_diagnostics.jsonl'), 'w') as f:
        f.write('{"iter": 49, "grad_norm": 120.0}\n')
    os.makedirs(osp.join(baseline, '20261207_144114'))
    with open(osp.join(baseline, '20261207_144114', '20261207_144114.log'), 'w') as f:
        f.write('2026/12/07 14:41:14 - mmengine - INFO - \nSystem environment:\n'
                '2026/12/07 14:48:18 - mmengine - INFO - Saving checkpoint at 1 epochs\n')
    os.makedirs(osp.join(out, 'pretrain'))
    torch.save({'state_dict': {'w': torch.ones(2)}}, osp.join(out, 'pretrain',
                                                             'image_backbone.pth'))
    from simdistill.evaluation import ReplicateStore
    ReplicateStore(osp.join(out, 'bootstrap_replicates'))['abc-r3'] = {'mAP': np.arange(3.0)}


def test_saved_state_restores_under_another_folder(tmp_path):
    out, state, other = str(tmp_path / 'a'), str(tmp_path / 'state'), str(tmp_path / 'b')
    fake_benchmark(out)
    written = carry_state.save(out, state)
    assert sorted(written) == sorted([
        'runs/teacher_lidar_seed0/metrics.json',
        'runs/teacher_lidar_seed0/test_epoch2/results/pred_instances_3d/results_nusc.json.gz',
        'runs/teacher_lidar_seed0/epoch_2.pth', 'runs/camera_baseline_seed0/epoch_1.pth',
        'runs/camera_baseline_seed0/last_checkpoint',
        'runs/camera_baseline_seed0/gradient_diagnostics.jsonl',
        'runs/camera_baseline_seed0/20261207_144114/20261207_144114.log',
        'pretrain/image_backbone.pth', 'bootstrap_replicates/abc-r3.npz'])
    # the finished teacher keeps its weights only; the unfinished run its whole checkpoint
    assert set(torch.load(osp.join(state, 'runs/teacher_lidar_seed0/epoch_2.pth'))) == {
        'state_dict', 'meta'}
    with open(osp.join(state, 'runs/camera_baseline_seed0/last_checkpoint')) as f:
        assert f.read() == 'runs/camera_baseline_seed0/epoch_1.pth'  # relative in the state
    with gzip.open(osp.join(state, 'runs/teacher_lidar_seed0/test_epoch2/results/'
                            'pred_instances_3d/results_nusc.json.gz')) as f:
        assert json.load(f)['results']['token'][0]['score'] == 0.5

    carry_state.restore(other, state)
    with open(osp.join(other, 'runs/teacher_lidar_seed0/metrics.json')) as f:
        record = json.load(f)
    assert record['checkpoint'] == osp.join(other, 'runs/teacher_lidar_seed0/epoch_2.pth')
    assert record['fingerprint'] == 'abc' and record['metrics'] == {'mAP': 0.4}
    for rel in ('runs/teacher_lidar_seed0/test_epoch2/results/pred_instances_3d/'
                'results_nusc.json', 'runs/camera_baseline_seed0/epoch_1.pth',
                'runs/camera_baseline_seed0/gradient_diagnostics.jsonl',
                'pretrain/image_backbone.pth', 'bootstrap_replicates/abc-r3.npz'):
        with open(osp.join(out, rel), 'rb') as a, open(osp.join(other, rel), 'rb') as b:
            assert a.read() == b.read(), rel
    # the distiller fingerprints its teacher by the weights: the same after the trip
    assert teacher_weights_sha1(record['checkpoint']) == teacher_weights_sha1(
        osp.join(out, 'runs/teacher_lidar_seed0/epoch_2.pth'))
    with open(osp.join(other, 'runs/camera_baseline_seed0/last_checkpoint')) as f:
        assert f.read() == osp.join(other, 'runs/camera_baseline_seed0/epoch_1.pth')
    # the stopped run's first session still counts in its training time: 14:41:14 -> 14:48:18
    assert training_wall_seconds(osp.join(other, 'runs/camera_baseline_seed0')) == 424


def test_restore_leaves_a_run_this_machine_went_on_with(tmp_path):
    out, state = str(tmp_path / 'a'), str(tmp_path / 'state')
    fake_benchmark(out)
    carry_state.save(out, state)
    later = osp.join(out, 'runs', 'camera_baseline_seed0', 'last_checkpoint')
    with open(later, 'w') as f:
        f.write('/somewhere/epoch_3.pth')
    carry_state.restore(out, state)
    with open(later) as f:
        assert f.read() == '/somewhere/epoch_3.pth'


def test_a_path_outside_the_benchmark_folder_is_refused(tmp_path):
    out = str(tmp_path / 'a')
    fake_benchmark(out)
    with open(osp.join(out, 'runs', 'camera_baseline_seed0', 'last_checkpoint'), 'w') as f:
        f.write(str(tmp_path / 'elsewhere.pth'))
    try:
        carry_state.save(out, str(tmp_path / 'state'))
    except ValueError as err:
        assert 'not under --out' in str(err)
    else:
        raise AssertionError('a checkpoint outside --out was carried')


def test_an_unfinished_run_carries_the_checkpoints_its_learning_curve_evaluates(tmp_path):
    """Stopped after epoch 3 of a run evaluated at epochs 2 and 4: epoch 3 travels whole (for
    --resume), epoch 2 as weights (for its evaluation), epoch 1 not at all."""
    out, state, other = str(tmp_path / 'a'), str(tmp_path / 'state'), str(tmp_path / 'b')
    run = osp.join(out, 'runs', 'simdistill_seed2')
    os.makedirs(run)
    for epoch in (1, 2, 3):
        runner_checkpoint(osp.join(run, f'epoch_{epoch}.pth'), epoch)
    with open(osp.join(run, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(run, 'epoch_3.pth'))
    written = carry_state.save(out, state, keep_epochs=(2, 4))
    assert sorted(written) == ['runs/simdistill_seed2/epoch_2.pth',
                               'runs/simdistill_seed2/epoch_3.pth',
                               'runs/simdistill_seed2/last_checkpoint']
    assert set(torch.load(osp.join(state, 'runs/simdistill_seed2/epoch_2.pth'))) == {
        'state_dict', 'meta'}
    carry_state.restore(other, state)
    restored = osp.join(other, 'runs', 'simdistill_seed2')
    assert sorted(os.listdir(restored)) == ['epoch_2.pth', 'epoch_3.pth', 'last_checkpoint']
    assert 'optimizer' in torch.load(osp.join(restored, 'epoch_3.pth'))
    assert torch.equal(torch.load(osp.join(restored, 'epoch_2.pth'))['state_dict']['conv.weight'],
                       torch.load(osp.join(run, 'epoch_2.pth'))['state_dict']['conv.weight'])
