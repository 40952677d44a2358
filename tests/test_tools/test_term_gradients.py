"""tools/benchmarks/term_gradients.py: the terms it groups and their gradient norms per module,
against hand-worked values."""
import math
import os.path as osp
import sys

import pytest
import torch

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import term_gradients  # noqa: E402


def test_terms_are_detection_each_distillation_term_and_their_sum():
    losses = {'task0.loss_heatmap': torch.tensor(1.0), 'task0.loss_bbox': torch.tensor(2.0),
              'loss_distill_lidar': torch.tensor(4.0), 'loss_distill_fused': torch.tensor(8.0),
              'gradnorm.camera_bev.detection': torch.tensor(100.0)}  # a log value, not a loss
    groups = {k: v.item() for k, v in term_gradients.term_groups(losses).items()}
    assert groups == {'detection': 3.0, 'distill_lidar': 4.0, 'distill_fused': 8.0,
                      'total': 15.0}


def test_norms_per_module_by_hand():
    model = torch.nn.ModuleDict(dict(a=torch.nn.Linear(3, 1, bias=False),
                                     b=torch.nn.Linear(2, 1, bias=False)))
    with torch.no_grad():
        model.a.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
        model.b.weight.copy_(torch.tensor([[1.0, -1.0]]))
    x, y = torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[3.0, 4.0]])
    out_a, out_b = model.a(x).sum(), model.b(y).sum()
    terms = {'only_a': 5 * out_a, 'both': out_a + out_b ** 2}
    norms = term_gradients.gradient_norms(terms, dict(model.named_parameters()), depth=1)
    # d(5 a.x)/dW_a = 5 x; d(b.y ** 2)/dW_b = 2 (b.y) y = 2 * (-1) * (3, 4)
    assert norms['only_a']['a'] == pytest.approx(5 * math.sqrt(5))
    assert norms['only_a']['b'] == 0  # a term that does not reach a module
    assert norms['both']['b'] == pytest.approx(10.0)
    assert norms['both']['all'] == pytest.approx(math.sqrt(5 + 100))
    line = term_gradients.table(term_gradients.medians([norms, norms]), clip=5.0)
    assert '| only_a | 11.18 | 0.447 | a 11.2 |' in line
