"""An inf/NaN loss term or gradient stops training naming the iteration and the term, or skips
the step when configured; the weights never take a non-finite value."""
import math

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from simdistill.engine import NamesNonFiniteLosses, NonFiniteGuardOptimWrapper
from simdistill.models import SimDistillStudent
from simdistill.models.distillers import SimDistill


class TwoTermModel(NamesNonFiniteLosses, BaseModel):
    """``loss_a`` is a regression; ``loss_b`` turns inf/NaN (or its gradient inf) at one
    iteration. Keeps a copy of its weights as they were when each iteration began."""

    def __init__(self, bad_iter, kind):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.bad_iter, self.kind, self.calls, self.snapshots = bad_iter, kind, 0, []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.snapshots.append({k: v.clone() for k, v in self.state_dict().items()})
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(x)
        loss_b = (out - 1).abs().mean()
        if self.calls == self.bad_iter:
            if self.kind == 'nan':
                loss_b = loss_b * math.nan
            elif self.kind == 'inf':
                loss_b = loss_b + math.inf
            else:  # finite loss, infinite gradient: d sqrt(u)/du at u = 0
                u = self.linear.weight.sum() - self.linear.weight.sum().detach()
                loss_b = loss_b + torch.sqrt(u)
        self.calls += 1
        return dict(loss_a=out.pow(2).mean(), loss_b=loss_b)


def train(tmp_path, on_non_finite, bad_iter=2, kind='nan', iters=4):
    model = TwoTermModel(bad_iter, kind)
    runner = Runner(
        model=model, work_dir=str(tmp_path),
        train_dataloader=dict(dataset=[torch.tensor([1.0, 2.0])] * 8,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(type='NonFiniteGuardOptimWrapper', on_non_finite=on_non_finite,
                           optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=iters), default_hooks=dict(checkpoint=None))
    return runner, model


@pytest.mark.parametrize('kind', ['nan', 'inf'])
def test_raise_names_iteration_and_term_and_keeps_weights(tmp_path, kind):
    runner, model = train(tmp_path, 'raise', kind=kind)
    with pytest.raises(FloatingPointError, match=r'iteration 2: non-finite loss \(loss_b = '):
        runner.train()
    for key, value in model.state_dict().items():  # no step after iteration 2 began
        assert torch.equal(value, model.snapshots[2][key]), key
        assert torch.isfinite(value).all()


def test_raise_on_a_non_finite_gradient(tmp_path):
    runner, model = train(tmp_path, 'raise', kind='grad')
    with pytest.raises(FloatingPointError, match='iteration 2: non-finite gradients in 1 '):
        runner.train()
    assert torch.equal(model.linear.weight, model.snapshots[2]['linear.weight'])


@pytest.mark.parametrize('kind', ['nan', 'grad'])
def test_skip_drops_only_that_step(tmp_path, kind):
    runner, model = train(tmp_path, 'skip', kind=kind)
    runner.train()
    assert runner.optim_wrapper.skipped_steps == 1
    assert model.calls == 4
    snaps = model.snapshots
    for key in snaps[0]:
        assert torch.equal(snaps[3][key], snaps[2][key]), key  # iteration 2 changed nothing
        assert not torch.equal(snaps[2][key], snaps[1][key]), key  # the others did
        assert torch.isfinite(model.state_dict()[key]).all()


def test_detectors_name_their_terms():
    assert issubclass(SimDistillStudent, NamesNonFiniteLosses)
    assert issubclass(SimDistill, NamesNonFiniteLosses)
    with pytest.raises(ValueError, match="'raise' or 'skip'"):
        NonFiniteGuardOptimWrapper(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1),
                                   on_non_finite='ignore')


def test_the_cpu_training_configs_ship_with_the_guard_raising():
    """Every CPU training config builds a NonFiniteGuardOptimWrapper that raises; the paper
    configs keep AMP, whose gradient scaler drops inf/NaN-gradient steps by design while it
    calibrates its scale."""
    import glob
    import os.path as osp
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from simdistill.testing import ROOT
    configs = sorted(c for c in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
                     if '_base_' not in c)
    cpu = [c for c in configs if '-cpu-' in osp.basename(c)]
    assert len(cpu) == 5
    for path in configs:
        wrapper = Config.fromfile(path, import_custom_modules=False).optim_wrapper
        if path in cpu:
            assert wrapper.type == 'NonFiniteGuardOptimWrapper', path
            assert wrapper.on_non_finite == 'raise', path
            built = build_optim_wrapper(nn.Linear(2, 1), wrapper)
            assert isinstance(built, NonFiniteGuardOptimWrapper)
            assert built.on_non_finite == 'raise'
        else:
            assert wrapper.type == 'AmpOptimWrapper', path
