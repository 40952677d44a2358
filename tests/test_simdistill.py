"""The SimDistill student, its geometry compensation and the distiller, at CPU size."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes
from simdistill.models import DeformableGeometryCompensation
from simdistill.models.dense_heads import HeadGrid
from simdistill.models.distillers import gt_heatmap_mask
from simdistill.models.distillers.prediction_distill import (regression_distill_loss,
                                                             teacher_task_heatmaps)
from simdistill.utils.export import export_student_weights
from e2e_helpers import drop_image_pretrain
from test_models import random_batch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEACHER = osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_'
                   'nus-mini-3d.py')
STUDENT = osp.join(ROOT, 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py')
DISTILLER = osp.join(ROOT, 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_'
                     'nus-mini-3d.py')
HALF = 51.2  # the CPU grid's half extent, metres


@pytest.fixture(scope='module', autouse=True)
def mmdet3d_scope():
    init_default_scope('mmdet3d')


def trained_looking_teacher(seed=0):
    """The CPU teacher with random weights and non-trivial BN statistics (a few train-mode
    forwards), in eval mode."""
    torch.manual_seed(seed)
    teacher = MODELS.build(drop_image_pretrain(Config.fromfile(TEACHER).model))
    teacher.init_weights()
    teacher.train()
    with torch.no_grad():
        for i in range(2):
            batch = teacher.data_preprocessor(random_batch(Config.fromfile(TEACHER), HALF,
                                                           seed=10 + i), True)
            teacher.extract_feat(batch['inputs'], [s.metainfo for s in batch['data_samples']])
    return teacher.eval()


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save({'state_dict': trained_looking_teacher().state_dict(), 'meta': {'epoch': 12}},
               path)
    return path


def distiller_cfg(teacher_ckpt, **model_overrides):
    cfg = Config.fromfile(DISTILLER)
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.model.update(model_overrides)
    drop_image_pretrain(cfg.model)
    return cfg


def build_distiller(teacher_ckpt, **model_overrides):
    torch.manual_seed(1)
    model = MODELS.build(distiller_cfg(teacher_ckpt, **model_overrides).model)
    model.init_weights()
    return model


def teacher_batch(seed=0):
    return random_batch(Config.fromfile(TEACHER), HALF, seed=seed)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------------------------------------
# geometry compensation
# ---------------------------------------------------------------------------------------------
def test_gcm_keeps_the_shape_is_residual_and_its_offsets_learn():
    torch.manual_seed(0)
    gcm = DeformableGeometryCompensation(embed_dims=16, num_heads=8, num_points=20)
    gcm.init_weights()
    bev = torch.randn(2, 16, 12, 20, requires_grad=True)
    out = gcm(bev)
    assert out.shape == bev.shape
    # Residual: with the attention's output projection zeroed, the module is the identity.
    with torch.no_grad():
        saved = [p.clone() for p in gcm.attention.output_proj.parameters()]
        for p in gcm.attention.output_proj.parameters():
            p.zero_()
    assert torch.equal(gcm(bev), bev)
    with torch.no_grad():
        for p, s in zip(gcm.attention.output_proj.parameters(), saved):
            p.copy_(s)
    # A loss on a shifted copy of the input moves the sampling offsets.
    target = torch.roll(bev.detach(), shifts=2, dims=-1)
    ((gcm(bev) - target)**2).mean().backward()
    offsets = gcm.attention.sampling_offsets
    assert offsets.weight.grad is not None and offsets.weight.grad.abs().sum() > 0
    assert offsets.bias.grad.abs().sum() > 0
    assert bev.grad.abs().sum() > 0


def test_gcm_rejects_a_map_of_the_wrong_width():
    gcm = DeformableGeometryCompensation(embed_dims=16, num_heads=8, num_points=4)
    with pytest.raises(ValueError, match=r'\(B, 16, ny, nx\).*\(1, 8, 4, 4\)'):
        gcm(torch.zeros(1, 8, 4, 4))
    with pytest.raises(ValueError, match='not divisible'):
        DeformableGeometryCompensation(embed_dims=20, num_heads=8)


# ---------------------------------------------------------------------------------------------
# the student
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('share', [False, True], ids=['separate', 'shared'])
def test_student_trains_from_images_only(share):
    cfg = Config.fromfile(STUDENT)
    drop_image_pretrain(cfg.model)
    if share:
        cfg.model.update(sim_lidar_view_transform=None, share_view_transform=True)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.with_camera and not model.with_lidar
    assert (model.sim_lidar_view_transform is None) == share
    batch = random_batch(cfg, HALF, with_points=False)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    assert set(data['inputs']) == {'imgs'}
    feats = model.extract_bev_features(data['inputs'],
                                       [s.metainfo for s in data['data_samples']])
    assert feats['camera_bev'].shape == feats['sim_lidar_bev'].shape == (2, 32, 128, 128)
    assert feats['fused_bev'].shape == (2, 64, 128, 128)
    assert torch.equal(feats['sim_lidar_bev_raw'], feats['camera_bev']) == share
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for module in model.view_transforms + [model.geometry_compensation, model.fusion_layer]:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    assert len(results) == 2 and results[0].pred_instances_3d.bboxes_3d.tensor.shape[1] == 9


def test_student_refuses_lidar_parts_and_depth_aware_lss():
    cfg = Config.fromfile(STUDENT)
    bad = copy.deepcopy(cfg.model)
    bad.view_transform.lidar_depth_channels = 8
    with pytest.raises(ValueError, match='images only.*lidar_depth_channels'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.share_view_transform = True
    with pytest.raises(ValueError, match='not both'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.sim_lidar_view_transform.xbound = [-51.2, 51.2, 0.4]
    with pytest.raises(ValueError, match=r'\(128, 128\).*\(128, 256\)'):
        MODELS.build(bad)


# ---------------------------------------------------------------------------------------------
# distillation losses: hand-worked values
# ---------------------------------------------------------------------------------------------
def one_box(x, y, dx=4.0, dy=2.0, label=0):
    boxes = torch.tensor([[x, y, -1.0, dx, dy, 1.5, 0.3, 0.0, 0.0]])
    return InstanceData(bboxes_3d=LiDARInstance3DBoxes(boxes, box_dim=9),
                        labels_3d=torch.tensor([label]))


def test_gt_heatmap_mask_covers_each_centre_and_vanishes_far_away():
    grid = HeadGrid(x_min=-51.2, y_min=-51.2, cell_x=0.8, cell_y=0.8, nx=128, ny=128)
    gts = [one_box(10.0, -20.0, label=0), one_box(-30.3, 5.5, label=8)]
    mask = gt_heatmap_mask(gts, grid, num_classes=10)
    assert mask.shape == (2, 1, 128, 128)
    for b, (x, y) in enumerate([(10.0, -20.0), (-30.3, 5.5)]):
        col, row = math.floor((x + 51.2) / 0.8), math.floor((y + 51.2) / 0.8)
        assert mask[b, 0, row, col] == 1.0  # rows are y, columns are x
        assert mask[b, 0].sum() < 30  # a small Gaussian: radius 2 cells
        far = mask[b, 0].clone()
        far[max(row - 3, 0):row + 4, max(col - 3, 0):col + 4] = 0
        assert far.abs().max() == 0
    # an ignored label (-1) draws nothing
    ignored = one_box(0.0, 0.0)
    ignored.labels_3d = torch.tensor([-1])
    assert gt_heatmap_mask([ignored], grid, num_classes=10).sum() == 0


def test_feature_losses_by_hand(teacher_ckpt):
    """One 2x2 map, 1 channel: MSE of masked maps, weight 100 for the LiDAR term."""
    distiller = build_distiller(teacher_ckpt)
    mse = distiller.feature_losses['lidar']
    s = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    t = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    m = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    # masked: s*m = [1, 1, 0, 0], t*m = [1, 0, 0, 0]: squared errors [0, 1, 0, 0] -> mean 0.25
    assert mse(s * m, t * m).item() == pytest.approx(100 * 0.25)
    assert distiller.feature_losses['camera'](s, t).item() == pytest.approx(
        (0 + 4 + 9 + 16) / 4)


def test_heatmap_qfl_by_hand_and_zero_when_equal():
    from mmdet3d.registry import MODELS as REG
    qfl = REG.build(dict(type='mmdet.QualityFocalLoss', use_sigmoid=True, beta=2.0,
                         loss_weight=0.25))
    logit, p_t = 0.3, 0.6
    p_s = 1 / (1 + math.exp(-logit))
    bce = -(p_t * math.log(p_s) + (1 - p_t) * math.log(1 - p_s))
    expected = 0.25 * bce * abs(p_t - p_s)**2
    student = [[{'heatmap': torch.full((1, 1, 1, 1), logit)}]]
    from simdistill.models.distillers.prediction_distill import heatmap_distill_loss
    loss = heatmap_distill_loss(student, [torch.full((1, 1, 1, 1), p_t)], qfl)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    logits = torch.randn(2, 3, 4, 5)
    same = heatmap_distill_loss([[{'heatmap': logits}]], [logits.sigmoid()], qfl)
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def test_transfusion_heatmap_is_split_into_the_students_tasks_class_by_class():
    heatmap = torch.randn(2, 10, 3, 3)
    tasks = ((0, ), (1, 2), (3, 4), (5, ), (6, 7), (8, 9))
    out = teacher_task_heatmaps([[{'heatmap': heatmap}]], 'transfusion', tasks)
    assert [t.shape[1] for t in out] == [1, 2, 2, 1, 2, 2]
    assert torch.equal(out[4][:, 1], heatmap.sigmoid()[:, 7])  # class 7 = task 4's second
    with pytest.raises(ValueError, match='TransFusion'):
        from simdistill.models.distillers.prediction_distill import head_kind
        head_kind(dict(type='Anchor3DHead'))


def test_regression_term_uses_real_centres_only():
    s = torch.zeros(1, 10, 2, 2, requires_grad=True)
    t = torch.ones(1, 10, 2, 2)
    keys = dict(reg=2, height=1, dim=3, rot=2, vel=2)

    def split(x):
        out, start = {}, 0
        for k, n in keys.items():
            out[k] = x[:, start:start + n]
            start += n
        return [out]

    # two slots: one real box at cell 3, one padded slot pointing at cell 0
    inds, masks = [torch.tensor([[3, 0]])], [torch.tensor([[1, 0]], dtype=torch.uint8)]
    t2 = t.clone()
    t2[:, :, 0, 0] = 100.0  # a padded slot's cell: must not count
    from mmdet3d.registry import MODELS as REG
    loss_fn = REG.build(dict(type='mmdet.SmoothL1Loss', beta=1.0 / 9, loss_weight=0.25))
    loss = regression_distill_loss([split(s)], [split(t2)], inds, masks, loss_fn)
    # |diff| = 1 >= beta: smooth-L1 = 1 - beta / 2 per element, mean over 10 elements
    assert loss.item() == pytest.approx(0.25 * (1 - 1 / 18), rel=1e-6)
    none = regression_distill_loss([split(s)], [split(t2)], inds, [masks[0] * 0], loss_fn)
    assert none.item() == 0 and none.requires_grad


# ---------------------------------------------------------------------------------------------
# the distiller
# ---------------------------------------------------------------------------------------------
def test_distiller_loads_the_teacher_strictly_and_keeps_it_out_of_everything(teacher_ckpt):
    distiller = build_distiller(teacher_ckpt)
    ckpt = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    assert_same_tensors(snapshot(distiller.teacher), ckpt)  # init_weights did not touch it
    assert not any(k.startswith('teacher') or '_teacher' in k for k in distiller.state_dict())
    names = [n for n, _ in distiller.named_parameters()]
    assert names and all(n.startswith(('student.', 'lidar_adapter.')) for n in names)
    assert all(not p.requires_grad for p in distiller.teacher.parameters())
    distiller.train()
    assert not distiller.teacher.training and distiller.student.training


def test_a_distiller_step_leaves_the_teacher_bit_identical(teacher_ckpt):
    distiller = build_distiller(teacher_ckpt)
    before_teacher, before_student = snapshot(distiller.teacher), snapshot(distiller.student)
    optim = torch.optim.AdamW(distiller.parameters(), lr=1e-3)
    distiller.train()
    seen = {}
    original = distiller.student.extract_bev_features

    def spy(inputs, metas):
        seen['keys'] = set(inputs)
        return original(inputs, metas)

    distiller.student.extract_bev_features = spy
    data = distiller.data_preprocessor(teacher_batch(), True)
    assert 'voxels' in data['inputs'] and 'points' in data['inputs']
    misses = distiller.student.view_transform.plan_cache.misses
    losses = distiller(**data, mode='loss')
    # one BEV-pool plan for the teacher's LSS and the student's two
    assert distiller.student.view_transform.plan_cache.misses == misses + 1
    assert seen['keys'] == {'imgs'}  # the student never receives points
    for name in ('camera', 'lidar', 'fused', 'heatmap', 'reg'):
        value = losses[f'loss_distill_{name}']
        assert torch.isfinite(value) and value > 0, name
    assert any(k.startswith('task0.') for k in losses)
    optim.zero_grad()
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    optim.step()
    assert all(p.grad is None for p in distiller.teacher.parameters())
    assert_same_tensors(snapshot(distiller.teacher), before_teacher)
    after = snapshot(distiller.student)
    changed = [k for k in after if not torch.equal(after[k], before_student[k])]
    assert any('sim_lidar_view_transform' in k for k in changed)
    assert any('geometry_compensation' in k for k in changed)
    assert any('img_backbone' in k for k in changed)


def test_distillation_terms_vanish_when_the_student_equals_the_teacher(teacher_ckpt):
    distiller = build_distiller(teacher_ckpt, lidar_adapter=None, loss_distill_lidar=None)
    distiller.eval()
    data = distiller.data_preprocessor(teacher_batch(), True)
    metas = [s.metainfo for s in data['data_samples']]
    gts = [s.gt_instances_3d for s in data['data_samples']]
    teacher = distiller.teacher_outputs(data['inputs'], metas)
    student = dict(camera_bev=teacher['camera_bev'].clone(),
                   fused_bev=teacher['fused_bev'].clone())
    zero = distiller.feature_distill_losses(student, teacher, gts)
    assert all(v.item() == 0 for v in zero.values()) and len(zero) == 2
    preds = distiller.prediction_distill_losses(teacher['preds'], teacher['preds'], gts)
    assert preds['loss_distill_heatmap'].item() == pytest.approx(0, abs=1e-7)
    assert preds['loss_distill_reg'].item() == 0
    student['camera_bev'] = student['camera_bev'] + 0.1
    assert distiller.feature_distill_losses(student, teacher, gts)[
        'loss_distill_camera'].item() == pytest.approx(0.01, rel=1e-4)


def test_each_term_can_be_switched_off(teacher_ckpt):
    distiller = build_distiller(teacher_ckpt, loss_distill_fused=None, loss_distill_reg=None,
                                feature_masks=dict(camera='gt_heatmap'))
    distiller.train()
    losses = distiller(**distiller.data_preprocessor(teacher_batch(), True), mode='loss')
    assert 'loss_distill_fused' not in losses and 'loss_distill_reg' not in losses
    assert {'loss_distill_camera', 'loss_distill_lidar', 'loss_distill_heatmap'} <= set(losses)
    with pytest.raises(ValueError, match="feature_masks\\['camera'\\]='box'"):
        build_distiller(teacher_ckpt, feature_masks=dict(camera='box'))


def test_predict_runs_the_student_alone(teacher_ckpt):
    distiller = build_distiller(teacher_ckpt)

    def refuse(*args, **kwargs):
        raise AssertionError('the teacher ran at predict time')

    for name in ('forward', 'extract_bev_features', 'extract_feat'):
        setattr(distiller.teacher, name, refuse)
    distiller.eval()
    batch = random_batch(Config.fromfile(STUDENT), HALF, with_points=False)
    with torch.no_grad():
        results = distiller(**distiller.data_preprocessor(batch, False), mode='predict')
    assert len(results) == 2


def test_wrong_teacher_checkpoint_fails_naming_the_keys(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    state.pop('fusion_layer.0.weight')
    state['extra.weight'] = torch.zeros(1)
    state['bbox_head.shared_conv.conv.weight'] = torch.zeros(3, 3)
    path = str(tmp_path / 'bad.pth')
    torch.save(state, path)
    with pytest.raises(KeyError) as info:
        build_distiller(path)
    message = str(info.value)
    for part in (path, '1 missing [fusion_layer.0.weight]', '1 unexpected [extra.weight]',
                 'bbox_head.shared_conv.conv.weight: checkpoint (3, 3)'):
        assert part in message, message
    torch.save({'state_dict': {'a': [1, 2]}}, path)
    with pytest.raises(TypeError, match="'a' is a list"):
        build_distiller(path)


def test_teacher_and_student_on_different_grids_fail_at_build_naming_both(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    student = cfg.model.student
    for vt in (student.view_transform, student.sim_lidar_view_transform):
        vt.update(xbound=[-51.2, 51.2, 1.6], ybound=[-51.2, 51.2, 1.6])
    student.bbox_head.train_cfg.update(grid_size=[64, 64, 1], voxel_size=[1.6, 1.6, 8.0])
    with pytest.raises(ValueError, match=r'student fused BEV is \(64, 64\).*teacher.*'
                       r'\(128, 128\)'):
        MODELS.build(cfg.model)


def test_export_gives_a_student_that_predicts_identically(teacher_ckpt, tmp_path):
    distiller = build_distiller(teacher_ckpt)
    # move the student off its init so equality is not trivial
    with torch.no_grad():
        for p in distiller.student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = str(tmp_path / 'distiller.pth')
    torch.save({'state_dict': distiller.state_dict(), 'meta': {'epoch': 3}}, path)
    out = str(tmp_path / 'student.pth')
    export_student_weights(path, out)
    exported = torch.load(out, weights_only=True)
    assert exported['meta']['epoch'] == 3
    assert not any(k.startswith(('lidar_adapter', 'teacher')) for k in exported['state_dict'])
    student = MODELS.build(drop_image_pretrain(Config.fromfile(STUDENT).model))
    student.load_state_dict(exported['state_dict'], strict=True)
    distiller.eval(), student.eval()
    batch = random_batch(Config.fromfile(STUDENT), HALF, with_points=False)
    with torch.no_grad():
        a = distiller(**distiller.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
        b = student(**student.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    for x, y in zip(a, b):
        assert torch.equal(x.pred_instances_3d.bboxes_3d.tensor,
                           y.pred_instances_3d.bboxes_3d.tensor)
        assert torch.equal(x.pred_instances_3d.scores_3d, y.pred_instances_3d.scores_3d)


def test_distiller_requires_a_teacher_checkpoint():
    cfg = Config.fromfile(DISTILLER)
    cfg.model.teacher_ckpt = None
    with pytest.raises(ValueError, match='teacher_ckpt'):
        MODELS.build(cfg.model)


def test_cpu_camera_models_share_one_pretrained_image_backbone(tmp_path):
    """Teacher, baseline and student (CPU) start from one image backbone + neck file, and
    init_weights really loads it."""
    baseline = osp.join(ROOT, 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py')
    paths = set()
    for path in (TEACHER, baseline, STUDENT):
        m = Config.fromfile(path).model
        for part in ('img_backbone', 'img_neck'):
            assert m[part].init_cfg.type == 'Pretrained' and m[part].init_cfg.prefix == part + '.'
            paths.add(m[part].init_cfg.checkpoint)
    assert len(paths) == 1
    torch.manual_seed(3)
    source = MODELS.build(drop_image_pretrain(Config.fromfile(STUDENT).model))
    state = {k: v for k, v in source.state_dict().items()
             if k.startswith(('img_backbone.', 'img_neck.'))}
    file = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': state}, file)
    cfg = Config.fromfile(STUDENT)
    for part in ('img_backbone', 'img_neck'):
        cfg.model[part].init_cfg.checkpoint = file
    torch.manual_seed(4)
    student = MODELS.build(cfg.model)
    student.init_weights()
    loaded = student.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_paper_distiller_with_a_transfusion_teacher_trains_a_step(tmp_path):
    """The paper configs (shrunk grid and images, same structure): a TransFusion teacher's
    heatmap distilled class by class into the Swin-T student's CenterHead tasks."""
    from test_models import shrink_paper_config
    paper = Config.fromfile(osp.join(
        ROOT, 'configs/simdistill/simdistill_swint_8xb3-acc2-cyclic-20e_nus-3d.py'))
    teacher_cfg, half = shrink_paper_config(Config.fromfile(paper.model.teacher))
    assert teacher_cfg.model.bbox_head.type == 'BEVTransFusionHead'
    torch.manual_seed(0)
    teacher = MODELS.build(teacher_cfg.model)
    teacher.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(teacher.state_dict(), ckpt)
    student_cfg, _ = shrink_paper_config(Config(dict(model=paper.model.student)))
    paper.model.update(teacher=teacher_cfg.model, teacher_ckpt=ckpt, student=student_cfg.model)
    distiller = MODELS.build(paper.model)
    distiller.init_weights()
    assert distiller.teacher_head == 'transfusion' and distiller.loss_reg is None
    distiller.train()
    batch = random_batch(teacher_cfg, half, seed=0)
    losses = distiller(**distiller.data_preprocessor(batch, True), mode='loss')
    for term in ('camera', 'lidar', 'fused', 'heatmap'):
        assert torch.isfinite(losses[f'loss_distill_{term}']), term
    assert losses['loss_distill_heatmap'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert distiller.student.geometry_compensation.attention.sampling_offsets.weight.grad \
        is not None


def test_centerhead_teacher_and_student_must_group_classes_alike(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    tasks = cfg.model.student.bbox_head.tasks
    tasks[4], tasks[5] = tasks[5], tasks[4]
    with pytest.raises(ValueError, match="student's tasks.*'pedestrian'.*teacher"):
        MODELS.build(cfg.model)
