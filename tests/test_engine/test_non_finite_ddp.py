"""The non-finite guard under two-process DDP (gloo, CPU): a loss that is NaN on one rank
only stops training on both ranks at that step ('raise'), or drops that step on both ('skip'),
and the ranks' weights stay identical and finite."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

HERE = osp.dirname(osp.abspath(__file__))


def free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def run_probe(tmp_path, mode):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(p for p in (HERE, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.run([sys.executable, osp.join(HERE, 'non_finite_ddp_probe.py'),
                           str(tmp_path), mode, free_port()], env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return [torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in (0, 1)]


def test_raise_stops_both_ranks_at_the_same_step(tmp_path):
    ranks = run_probe(tmp_path, 'raise')
    for rank, result in enumerate(ranks):
        events = result['events']
        assert len(events) == 2 and events[0].startswith('stepped'), events
        assert events[1].startswith('raised: iteration 1: non-finite loss'), events
    assert 'loss_fit' in ranks[1]['events'][1]  # the rank whose term it was names it
    assert 'on another rank' in ranks[0]['events'][1]
    # the step that raised changed nothing: both hold the weights after step 0, equal
    assert torch.equal(ranks[0]['weight'], ranks[1]['weight'])
    assert ranks[0]['events'][0] == ranks[1]['events'][0]


def test_skip_drops_that_step_on_both_ranks_and_keeps_them_identical(tmp_path):
    ranks = run_probe(tmp_path, 'skip')
    for result in ranks:
        assert result['skipped'] == 1
        assert [e.split(' ')[0] for e in result['events']] == ['stepped'] * 4
        assert torch.isfinite(result['weight']).all() and torch.isfinite(result['bias']).all()
    assert torch.equal(ranks[0]['weight'], ranks[1]['weight'])
    assert torch.equal(ranks[0]['bias'], ranks[1]['bias'])
    # step 1 was dropped: the weights after it are those after step 0, on both ranks
    for result in ranks:
        after = [e.split(' weights ')[1] for e in result['events']]
        assert after[1] == after[0] and after[2] != after[1], after
