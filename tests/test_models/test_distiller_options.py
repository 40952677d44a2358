"""The distiller's options beyond the paper's setting (the masked term's average, the heat-map
term's average, the student's decoder and head started from the teacher's) and its gradient
diagnostics (per-term gradient norms at the BEV maps: by hand, through the distiller, the hook)."""
import math
from types import SimpleNamespace

import pytest
import torch

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from simdistill.engine.gradient_diagnostics import GradientDiagnosticsHook, bev_gradient_norms
from simdistill.models.distillers import gt_heatmap_mask
from simdistill.models.distillers.prediction_distill import heatmap_distill_loss
from simdistill.testing import build_distiller, teacher_batch


def feature_maps(model, seed=0):
    """Student and teacher feature dicts of the right shapes, and one ground-truth box."""
    from mmengine.structures import InstanceData
    from mmdet3d.structures import LiDARInstance3DBoxes
    g = torch.Generator().manual_seed(seed)
    C_cam, (ny, nx) = 32, (128, 128)
    student = {k: torch.randn(2, C_cam, ny, nx, generator=g)
               for k in ('camera_bev', 'sim_lidar_bev')}
    student['fused_bev'] = torch.randn(2, 64, ny, nx, generator=g)
    teacher = dict(camera_bev=torch.randn(2, C_cam, ny, nx, generator=g),
                   lidar_bev=torch.randn(2, 64, ny, nx, generator=g),
                   fused_bev=torch.randn(2, 64, ny, nx, generator=g))
    gts = [InstanceData(bboxes_3d=LiDARInstance3DBoxes(torch.tensor(
        [[10.0, -5.0, -1.0, 4.5, 2.0, 1.6, 0.3]])), labels_3d=torch.tensor([0]))
           for _ in range(2)]
    return student, teacher, gts


def test_mask_sum_average_is_the_mean_over_the_masked_region(teacher_ckpt):
    cells = build_distiller(teacher_ckpt)
    masked = build_distiller(teacher_ckpt, masked_average='mask_sum')
    masked.lidar_adapter.load_state_dict(cells.lidar_adapter.state_dict())
    student, teacher, gts = feature_maps(cells)
    with torch.no_grad():
        a = cells.feature_distill_losses(student, teacher, gts)['loss_distill_lidar']
        b = masked.feature_distill_losses(student, teacher, gts)['loss_distill_lidar']
    grid = cells.student.view_transform.map_grid
    mask = gt_heatmap_mask(gts, grid, cells.num_classes, **cells.mask_cfg)
    C = teacher['lidar_bev'].shape[1]
    elements = teacher['lidar_bev'].numel()
    # the same squared error, summed, over all B*C*ny*nx elements vs over C * sum(M)
    assert b.item() == pytest.approx(a.item() * elements / (C * mask.sum().item()), rel=1e-5)
    assert 0 < mask.sum() < mask.numel() / 100  # one box: a small share of the map
    # the unmasked terms do not change
    assert torch.equal(cells.feature_distill_losses(student, teacher, gts)['loss_distill_fused'],
                       masked.feature_distill_losses(student, teacher, gts)['loss_distill_fused'])


def test_heatmap_term_averaged_over_the_teacher_positive_cells():
    qfl = MODELS.build(dict(type='mmdet.QualityFocalLoss', use_sigmoid=True, beta=2.0,
                            loss_weight=0.25))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=g)
    target = torch.rand(2, 3, 8, 8, generator=g) * 0.4
    target[0, 1, 2, 3] = 0.9  # three positive cells (one with two positive classes)
    target[0, 2, 2, 3] = 0.6
    target[1, 0, 7, 7] = 0.5
    target[1, 2, 0, 0] = 0.7
    preds = [[dict(heatmap=logits)]]
    mean_all = heatmap_distill_loss(preds, [target], qfl, 'cells')
    positive = heatmap_distill_loss(preds, [target], qfl, 'teacher_positive')
    # mmdet's tensor-target QFL sums a cell's classes and averages over the 128 cells; the
    # positive average divides the same sum by the 3 positive cells instead
    assert positive.item() == pytest.approx(mean_all.item() * (2 * 8 * 8) / 3, rel=1e-5)
    with pytest.raises(ValueError, match='average'):
        heatmap_distill_loss(preds, [target], qfl, 'boxes')


def test_student_decoder_and_head_start_from_the_teacher(teacher_ckpt):
    parts = ('pts_backbone', 'pts_neck', 'bbox_head')
    plain = build_distiller(teacher_ckpt)
    warm = build_distiller(teacher_ckpt, init_student_from_teacher=parts)
    for part in parts:
        t = getattr(warm.teacher, part).state_dict()
        s = getattr(warm.student, part).state_dict()
        assert all(torch.equal(s[k], t[k]) for k in t), part
        p = getattr(plain.student, part).state_dict()
        assert not all(torch.equal(p[k], t[k]) for k in t if t[k].is_floating_point()), part
    with pytest.raises(ValueError, match='no module'):
        build_distiller(teacher_ckpt, init_student_from_teacher=('pts_decoder', ))


# ---------------------------------------------------------------------------------------------
# gradient diagnostics
# ---------------------------------------------------------------------------------------------
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


def test_hook_logs_raw_values_with_the_steps_norm_and_clip(tmp_path):
    """The log's lines: only marked iterations, each with the optimiser's total norm of that
    step and the clip; a resumed run's repeated iteration replaces the first in the summary."""
    from mmengine.logging import MessageHub
    from simdistill.engine.gradient_diagnostics import summarise_gradient_log
    hub = MessageHub.get_instance('gradient-diagnostics-test')
    model = SimpleNamespace(record_gradient_norms=False)
    hook = GradientDiagnosticsHook(interval=2)
    runner = SimpleNamespace(model=model, iter=0, epoch=0, work_dir=str(tmp_path),
                             message_hub=hub,
                             optim_wrapper=SimpleNamespace(clip_grad_kwargs=dict(max_norm=35)))
    steps = [(0, 50.0, 1.0), (1, 70.0, 2.0), (2, 10.0, 3.0), (3, 20.0, 4.0), (3, 140.0, 8.0)]
    for it, total, norm in steps:  # iteration 3 twice: resumed from before it
        runner.iter = it
        hook.before_train_iter(runner, it)
        hub.update_scalar('train/grad_norm', total)
        outputs = {'loss': torch.tensor(1.0)}
        if model.record_gradient_norms:  # the model adds its norms when marked
            outputs['gradnorm.fused_bev.detection'] = torch.tensor(norm)
        hook.after_train_iter(runner, it, outputs=outputs)
    lines = (tmp_path / 'gradient_diagnostics.jsonl').read_text().splitlines()
    assert len(lines) == 3  # iterations 1, 3, 3
    summary = summarise_gradient_log(str(tmp_path / 'gradient_diagnostics.jsonl'))
    # kept: iteration 1 (70, 2.0) and the repeat of 3 (140, 8.0)
    assert summary['steps'] == 2
    assert summary['grad_norm'] == pytest.approx(105.0)
    assert summary['clipped_share'] == 1.0
    assert summary['clip_factor'] == pytest.approx((35 / 70 + 35 / 140) / 2)
    assert summary['gradnorm.fused_bev.detection'] == pytest.approx(5.0)
    (tmp_path / 'bad.jsonl').write_text('{"iter": 1}\nnot json\n')
    with pytest.raises(ValueError, match='bad.jsonl:2'):
        summarise_gradient_log(str(tmp_path / 'bad.jsonl'))
