"""The SimDistill student, its geometry compensation and the distiller, at CPU size."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes
from simdistill.models import DeformableGeometryCompensation
from simdistill.models.distillers import gt_heatmap_mask
from simdistill.models.distillers.prediction_adapters import TransFusionPredictions
from simdistill.models.distillers.prediction_distill import regression_distill_loss
from simdistill.structures import HeadGrid
from simdistill.models.distillers.student_export import export_student_weights
from simdistill.testing import (DISTILLER, HALF, ROOT, STUDENT, TEACHER, build_distiller,
                               distiller_cfg, drop_image_pretrain, random_batch,
                               shrink_paper_config, teacher_batch, trained_looking_teacher)


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
    out = TransFusionPredictions(tasks).teacher_heatmaps([[{'heatmap': heatmap}]])
    assert [t.shape[1] for t in out] == [1, 2, 2, 1, 2, 2]
    assert torch.equal(out[4][:, 1], heatmap.sigmoid()[:, 7])  # class 7 = task 4's second
    with pytest.raises(ValueError, match='TransFusion'):
        from simdistill.models.distillers.prediction_adapters import prediction_adapter_class
        prediction_adapter_class(dict(type='Anchor3DHead'))


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
# every distillation term by value, through the distiller's own loss()
# ---------------------------------------------------------------------------------------------
# Two samples on the CPU grid (features 128 x 128 at 0.8 m, head maps 64 x 64 at 1.6 m, both
# from x, y = -51.2 m). Each holds one box of one cell (0.8 m square), so the mask's radius is
# min_radius = 2 (CenterPoint's radius of a one-cell box at overlap 0.1 is 0.43 < 1). The
# boxes sit at cell centres of rows != columns, so a transposed map or mask reads other cells.
BOXES = (  # sample -> (x, y metres, label); label 0 = car (task 0), 1 = truck (task 1)
    (10.8, -20.4, 0),  # feature cell (row 38, col 77); head cell (row 19, col 38)
    (-30.0, 5.2, 1),  # feature cell (row 70, col 26); head cell (row 35, col 13)
)


def cell_of(x, y, cell):
    return math.floor((y + HALF) / cell), math.floor((x + HALF) / cell)  # (row, col)


def expected_mask(shape, cell=0.8, radius=2):
    """The ground-truth mask in float64, from CenterPoint's Gaussian formula: exp(-(i^2 +
    j^2) / (2 sigma^2)) at offsets |i|, |j| <= radius, sigma = (2 radius + 1) / 6."""
    sigma = (2 * radius + 1) / 6
    mask = torch.zeros((len(BOXES), 1) + shape, dtype=torch.float64)
    for b, (x, y, _) in enumerate(BOXES):
        row, col = cell_of(x, y, cell)
        for i in range(-radius, radius + 1):
            for j in range(-radius, radius + 1):
                mask[b, 0, row + i, col + j] = math.exp(-(i * i + j * j) / (2 * sigma**2))
    return mask


def gt_samples():
    from mmdet3d.structures import Det3DDataSample
    samples = []
    for x, y, label in BOXES:
        sample = Det3DDataSample(metainfo={})
        sample.gt_instances_3d = InstanceData(
            bboxes_3d=LiDARInstance3DBoxes(torch.tensor([[x, y, -1.0, 0.8, 0.8, 1.5, 0.3, 0.0,
                                                          0.0]]), box_dim=9),
            labels_3d=torch.tensor([label]))
        samples.append(sample)
    return samples


def head_layout(distiller):
    """(per task: number of classes), {regression key: channels}, (H, W) of the head maps."""
    head = distiller.student.bbox_head
    common = distiller_cfg('unused').model.student.bbox_head.common_heads
    cfg = head.train_cfg
    size = tuple(n // cfg['out_size_factor'] for n in cfg['grid_size'][1::-1])
    return list(head.num_classes), {k: v[0] for k, v in common.items()}, size


def loss_with_outputs(distiller, student, teacher, s_preds):
    """``distiller.loss`` on two samples whose teacher outputs, student BEV maps and student
    head outputs are the given ones (the networks are replaced by these values)."""
    distiller.teacher_outputs = lambda inputs, metas: teacher
    distiller.student.extract_bev_features = lambda inputs, metas: dict(student, decoder=None)
    distiller.student.bbox_head.forward = lambda feats: s_preds
    return distiller.loss({'imgs': torch.zeros(2, 6, 3, 8, 8)}, gt_samples())


def constant_preds(distiller, heatmap, regression):
    counts, reg_channels, (H, W) = head_layout(distiller)
    return tuple([dict({k: torch.full((2, c, H, W), regression) for k, c in reg_channels.items()},
                       heatmap=torch.full((2, k, H, W), heatmap))] for k in counts)


@pytest.fixture(scope='module')
def valued_distiller(teacher_ckpt):
    """The CPU distiller in eval mode, its LiDAR adapter (3x3 conv 32 -> 64, BN, ReLU) made
    to output the channel mean of its input: conv centre taps 1/32, BN the identity."""
    distiller = build_distiller(teacher_ckpt)
    adapter = distiller.lidar_adapter
    conv, bn = adapter[0], adapter[1]
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = 1.0 / conv.in_channels
        bn.weight.fill_(1.0), bn.bias.zero_(), bn.running_mean.zero_(), bn.running_var.fill_(1)
    bn.eps = 0.0
    return distiller.eval()


def test_feature_terms_by_value_inside_and_outside_the_box_mask(valued_distiller):
    """Student and teacher maps differ by one amount inside each box's 5x5 mask patch and
    another outside it; each term's value worked out in float64 from those amounts.

    LiDAR (masked, weight 100): mean over (B, C, H, W) of (M (a - t))^2 = 100 d_in^2 sum(M^2)
    / (B H W), the channels identical. Unmasked: camera (weight 1) mean of the squared
    differences everywhere; fused (weight 1) d^2.
    """
    distiller = valued_distiller
    c_cam, c_lidar = distiller.lidar_adapter.in_channels[0], distiller.lidar_adapter.out_channels
    c_fused = distiller.student.fusion_layer.out_channels
    shape = (128, 128)
    mask = expected_mask(shape)
    patch = (mask > 0).to(torch.float32)  # the 5x5 patch of each box
    n_cells = 2 * shape[0] * shape[1]
    # simulated LiDAR 3.0 everywhere -> adapter 3.0; teacher 2.5 in the patches, 1.0 outside
    d_in, d_out = 0.5, 2.0
    sim_lidar = torch.full((2, c_cam) + shape, 3.0)
    lidar = (3.0 - d_out + (d_out - d_in) * patch).expand(-1, c_lidar, -1, -1).contiguous()
    # camera: differences 1.0 in the patches, 0.25 outside; fused: 0.5 everywhere
    camera_t = torch.full((2, c_cam) + shape, -1.0)
    camera_s = camera_t + (0.25 + 0.75 * patch)
    fused_t = torch.zeros((2, c_fused) + shape)
    student = dict(camera_bev=camera_s, sim_lidar_bev=sim_lidar, fused_bev=fused_t + 0.5)
    teacher = dict(camera_bev=camera_t, lidar_bev=lidar, fused_bev=fused_t,
                   preds=constant_preds(distiller, 0.0, 0.0))
    losses = loss_with_outputs(distiller, student, teacher, constant_preds(distiller, 0.0, 0.0))

    lidar_expected = 100 * d_in**2 * float((mask**2).sum()) / n_cells
    in_patch = float(patch.sum())  # 2 x 25 cells
    camera_expected = (in_patch * 1.0 + (n_cells - in_patch) * 0.25**2) / n_cells
    assert in_patch == 50
    assert losses['loss_distill_lidar'].item() == pytest.approx(lidar_expected, rel=1e-5)
    assert losses['loss_distill_camera'].item() == pytest.approx(camera_expected, rel=1e-5)
    assert losses['loss_distill_fused'].item() == pytest.approx(0.25, rel=1e-6)
    # What the region-aware term is not: the unmasked MSE, or the mask on one side only.
    unmasked = 100 * (in_patch * d_in**2 + (n_cells - in_patch) * d_out**2) / n_cells
    student_side = 100 * float(((3.0 * mask - lidar[:, :1].double())**2).mean())
    for wrong in (unmasked, student_side, 2 * lidar_expected):
        assert losses['loss_distill_lidar'].item() != pytest.approx(wrong, rel=1e-3)

    # The camera term masked too (feature_masks option): M^2 times its squared differences.
    distiller.feature_masks['camera'] = 'gt_heatmap'
    try:
        masked = loss_with_outputs(distiller, student, teacher, teacher['preds'])
    finally:
        distiller.feature_masks['camera'] = None
    assert masked['loss_distill_camera'].item() == pytest.approx(
        float((mask**2).sum()) / n_cells, rel=1e-5)
    assert masked['loss_distill_lidar'].item() == pytest.approx(lidar_expected, rel=1e-5)


def test_prediction_terms_by_value_at_real_and_padded_box_slots(valued_distiller):
    """Heatmap QFL and box Smooth-L1 through ``loss``, against float64 formulas.

    Student: heatmap logits 0 and box regressions 0 everywhere. Teacher: regressions 7 in
    every cell (cell 0 included, where CenterHead's padded ground-truth slots point) except
    at the two boxes' head cells in their tasks: 0.5 (car, task 0) and 0.05 (truck, task 1);
    heatmap logits -3 except 2 at each box's cell and class.

    Smooth-L1 (beta 1/9): |d| - beta / 2 for |d| >= beta, else d^2 / (2 beta); mean over the
    task's real boxes x 10 channels, summed over tasks, weight 0.25. QFL (beta 2) of logit
    l against probability p: BCE(l, p) |sigmoid(l) - p|^2, summed over a task's classes,
    averaged over its cells, summed over tasks, weight 0.25.
    """
    distiller = valued_distiller
    counts, reg_channels, (H, W) = head_layout(distiller)
    s_preds = constant_preds(distiller, 0.0, 0.0)
    t_preds = constant_preds(distiller, -3.0, 7.0)
    diffs = (0.5, 0.05)
    for b, ((x, y, label), d) in enumerate(zip(BOXES, diffs)):
        row, col = cell_of(x, y, 1.6)
        task = label  # car is task 0's only class, truck task 1's first
        for key in reg_channels:
            t_preds[task][0][key][b, :, row, col] = d
        t_preds[task][0]['heatmap'][b, 0, row, col] = 2.0
    feats = dict(camera_bev=torch.zeros(2, 32, 128, 128), sim_lidar_bev=torch.zeros(
        2, 32, 128, 128), fused_bev=torch.zeros(2, 64, 128, 128))
    teacher = dict(camera_bev=feats['camera_bev'], lidar_bev=torch.zeros(2, 64, 128, 128),
                   fused_bev=feats['fused_bev'], preds=t_preds)
    losses = loss_with_outputs(distiller, feats, teacher, s_preds)

    beta = 1 / 9
    smooth_l1 = lambda d: d - beta / 2 if d >= beta else d * d / (2 * beta)  # noqa: E731
    reg_expected = 0.25 * (smooth_l1(0.5) + smooth_l1(0.05))  # one box per task, mean over C
    assert losses['loss_distill_reg'].item() == pytest.approx(reg_expected, rel=1e-5)

    def qfl(logit, p):
        s = 1 / (1 + math.exp(-logit))
        return -(p * math.log(s) + (1 - p) * math.log(1 - s)) * abs(s - p)**2

    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    heat_expected = 0.0
    for task, k in enumerate(counts):
        boxes_here = sum(1 for _, _, label in BOXES if label == task)
        cells = 2 * H * W
        total = (cells * k - boxes_here) * qfl(0.0, sig(-3.0)) + boxes_here * qfl(0.0, sig(2.0))
        heat_expected += 0.25 * total / cells
    assert losses['loss_distill_heatmap'].item() == pytest.approx(heat_expected, rel=1e-5)


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
