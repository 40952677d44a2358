"""Per-term gradient norms at the BEV maps: by hand, through the distiller, and the hook."""
import math
from types import SimpleNamespace

import pytest
import torch

from simdistill.engine.gradient_diagnostics import GradientDiagnosticsHook, bev_gradient_norms
from test_simdistill import build_distiller, teacher_batch, trained_looking_teacher


def test_norms_by_hand():
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    y = torch.randn(2, 3, 4, 5, requires_grad=True)
    norms = bev_gradient_norms({'a': (2 * x).sum(), 'b': (x**2).sum() / 2 + (3 * y).sum()},
                               {'x': x, 'y': y})
    assert norms['gradnorm.x.a'].item() == pytest.approx(2 * math.sqrt(120))
    assert norms['gradnorm.y.a'].item() == 0  # a does not reach y
    assert norms['gradnorm.x.b'].item() == pytest.approx(x.detach().norm().item())
    assert norms['gradnorm.y.b'].item() == pytest.approx(3 * math.sqrt(120))
    assert all('loss' not in key for key in norms)  # logged, never added to the loss


@pytest.fixture(scope='module', autouse=True)
def mmdet3d_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save({'state_dict': trained_looking_teacher().state_dict()}, path)
    return path


def test_distiller_reports_each_term_where_it_acts(teacher_ckpt):
    model = build_distiller(teacher_ckpt).train()
    batch = model.data_preprocessor(teacher_batch(), True)
    plain = model.loss(batch['inputs'], batch['data_samples'])
    assert not any(k.startswith('gradnorm') for k in plain)
    model.record_gradient_norms = True
    losses = model.loss(batch['inputs'], batch['data_samples'])
    norms = {k: v.item() for k, v in losses.items() if k.startswith('gradnorm')}
    for bev in ('camera_bev', 'sim_lidar_bev', 'fused_bev'):
        for term in ('detection', 'total', 'distill_camera', 'distill_lidar', 'distill_fused'):
            assert f'gradnorm.{bev}.{term}' in norms
    # the separate branches: the LiDAR term never reaches the camera BEV, the camera term
    # never the simulated-LiDAR BEV; the fused term reaches both through the fuser
    assert norms['gradnorm.camera_bev.distill_lidar'] == 0
    assert norms['gradnorm.sim_lidar_bev.distill_camera'] == 0
    assert norms['gradnorm.sim_lidar_bev.distill_lidar'] > 0
    assert norms['gradnorm.camera_bev.distill_fused'] > 0
    assert norms['gradnorm.fused_bev.distill_camera'] == 0  # acts before the fuser
    # the diagnostics are not in the optimised loss
    total, _ = model.parse_losses(losses)
    assert total.item() == pytest.approx(
        sum(v.item() for k, v in losses.items() if 'loss' in k), rel=1e-6)
    assert not any('loss' in k for k in norms)


def test_hook_marks_every_nth_iteration():
    model = SimpleNamespace(record_gradient_norms=False)
    hook = GradientDiagnosticsHook(interval=3)
    marked = []
    for it in range(7):
        runner = SimpleNamespace(model=model, iter=it)
        hook.before_train_iter(runner, it)
        marked.append(model.record_gradient_norms)
        hook.after_train_iter(runner, it)
        assert model.record_gradient_norms is False
    assert marked == [False, False, True, False, False, True, False]
    with pytest.raises(ValueError, match='interval'):
        GradientDiagnosticsHook(interval=0)
