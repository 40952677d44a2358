"""The GPU check's dry run on a machine without CUDA: the plan resolves to real functions and
the JSON says that nothing was measured."""
import json
import os.path as osp
import sys

import pytest
import torch

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import gpu_check  # noqa: E402


@pytest.mark.parametrize('forced', [True, False], ids=['--dry-run', 'no-cuda'])
def test_dry_run_plans_every_step_and_measures_nothing(tmp_path, forced, monkeypatch):
    if not forced:
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    out = tmp_path / 'gpu_check.json'
    gpu_check.main((['--dry-run'] if forced else []) + ['--out', str(out)])
    report = json.loads(out.read_text())
    assert report['device'] == 'cpu-dry-run'
    assert [p['step'] for p in report['plan']] == ['cuda_tests', 'bev_pool', 'latency',
                                                   'train_step']
    assert sum(p['timeout_s'] for p in report['plan']) <= gpu_check.BUDGET_S <= 480
    calls = [c for p in report['plan'] for c in p['calls']]
    for name in ('bev_pool.run_size', 'student_latency.measure', 'train_memory.paper_batch',
                 'mmengine.optim.optimizer.amp_optimizer_wrapper.AmpOptimWrapper'):
        assert name in calls, calls
    assert [t['target'] for t in report['targets']] == [
        'BEV pool float32 forward: fused >= 5x faster than interval',
        'BEV pool float32 forward: fused within 3x of the memory floor',
        'BEV pool float32 forward+backward: fused >= 5x faster than interval',
        'BEV pool float32 forward+backward: fused within 3x of the memory floor',
        'paper size: student latency <= 1.10x baseline']
    assert all(t['value'] is None and t['met'] is None for t in report['targets'])
    assert 'steps' not in report  # no measured numbers


def test_targets_are_computed_from_step_results():
    bev = dict(results=[
        dict(impl='fused', mode='forward', median_s=1.0, x_floor=2.0),
        dict(impl='interval', mode='forward', median_s=6.0, x_floor=12.0),
        dict(impl='fused', mode='forward+backward', median_s=2.0, x_floor=4.0),
        dict(impl='interval', mode='forward+backward', median_s=8.0, x_floor=16.0)])
    latency = dict(rows=[dict(variant='baseline', median_ms=100.0),
                         dict(variant='student', median_ms=105.0)])
    got = gpu_check.targets(dict(bev_pool=dict(sizes={'nuscenes-float32': bev}),
                                 latency=latency))
    assert [(t['value'], t['met']) for t in got] == [(6.0, True), (2.0, True), (4.0, False),
                                                     (4.0, False), (1.05, True)]
