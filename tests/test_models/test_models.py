"""The BEVFusion parts SimDistill adds: frustum geometry, LSS, fuser, grid checks, detectors."""
import copy
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample
from simdistill.models import BEVConvFuser, LSSViewTransform
from simdistill.models.view_transforms import frustum_to_lidar, make_frustum
from simdistill.structures import check_bev_grids
from simdistill.testing import (ROOT, camera_rig, drop_image_pretrain, random_batch,
                               random_img_aug, random_lidar_aug, shrink_paper_config)

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'bevfusion', '*.py')))


def test_frustum_points_project_back_onto_their_pixels():
    """A frustum point lifted to augmented LiDAR coordinates, projected with the augmented
    matrices composed in float64 numpy, lands on its pixel at its depth."""
    rng = np.random.default_rng(0)
    image_size, feature_size = (64, 176), (8, 22)
    frustum = make_frustum(image_size, feature_size, (1.0, 40.0, 3.0))
    B, N = 2, 3
    cams = [camera_rig(N, image_size, rng) for _ in range(B)]
    img_aug = np.stack([random_img_aug(rng, N) for _ in range(B)])
    lidar_aug = np.stack([random_lidar_aug(rng) for _ in range(B)])
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    pts = frustum_to_lidar(frustum, t(np.stack([c[0] for c in cams])),
                           t(np.stack([c[1] for c in cams])), t(img_aug), t(lidar_aug))
    assert pts.shape == (B, N) + tuple(frustum.shape)
    uvd = frustum.double().reshape(-1, 3).numpy()
    for b in range(B):
        for n in range(N):
            # img_aug translation acts after the division: move it into the depth column.
            proj = img_aug[b, n].copy()
            proj[:2, 2] += proj[:2, 3]
            proj[:2, 3] = 0
            lidar2img = proj @ cams[b][0][n] @ cams[b][1][n] @ np.linalg.inv(lidar_aug[b])
            p = pts[b, n].double().reshape(-1, 3).numpy()
            q = np.c_[p, np.ones(len(p))] @ lidar2img.T
            np.testing.assert_allclose(q[:, 2], uvd[:, 2], rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(q[:, :2] / q[:, 2:3], uvd[:, :2], atol=2e-2)


def one_camera_lss(**kwargs):
    cfg = dict(
        in_channels=4, out_channels=3, image_size=(32, 64), feature_size=(4, 8),
        xbound=(-20.0, 20.0, 1.0), ybound=(-20.0, 20.0, 1.0), zbound=(-10.0, 10.0, 20.0),
        dbound=(1.0, 17.0, 1.0), downsample=1)
    cfg.update(kwargs)
    return LSSViewTransform(**cfg)


def forward_camera(W=64, H=32):
    """One camera at the LiDAR origin looking along +x, principal point at the centre."""
    cam2img = torch.eye(4)
    cam2img[0, 0] = cam2img[1, 1] = W / 2
    cam2img[0, 2], cam2img[1, 2] = W / 2, H / 2
    cam2lidar = torch.eye(4)
    cam2lidar[:3, :3] = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    return dict(cam2img=cam2img[None, None], lidar2cam=torch.linalg.inv(cam2lidar)[None, None],
                img_aug_matrix=torch.eye(4)[None, None], lidar_aug_matrix=torch.eye(4)[None])


def test_lss_puts_a_certain_depth_in_the_hand_worked_cell():
    """Depth one-hot at 10 m, context = 1: every image column's mass lands at x = 10 m, at
    y = -10 (u - W/2) / f for column u; the BEV map holds the hand-computed counts."""
    lss = one_camera_lss()
    lss.eval()
    depth = torch.zeros(1, 1, 16, 4, 8)
    depth[:, :, 9] = 1.0  # bins are 1, 2, ..., 16 m: bin 9 is 10 m
    context = torch.ones(1, 1, 3, 4, 8)
    from simdistill.ops.bev_pool import bev_pool
    bev = bev_pool(depth, context, lss.plan_for(forward_camera()), impl='torch')
    assert bev.shape == (1, 3, 1, 40, 40)
    expected = torch.zeros(40, 40)
    for u in torch.linspace(0, 63, 8):
        y = -10.0 * (float(u) - 32.0) / 32.0
        expected[int(math.floor(y + 20.0)), int(math.floor(10.0 + 20.0))] += 4  # 4 rows
    torch.testing.assert_close(bev[0, 0, 0], expected)
    torch.testing.assert_close(bev[0, 2, 0], expected)


def test_lss_shapes_and_depth_distribution():
    lss = one_camera_lss(downsample=2, out_channels=5)
    feats = torch.randn(2, 1, 4, 4, 8)
    cams = {k: v.expand(2, *v.shape[1:]).clone() for k, v in forward_camera().items()}
    out = lss(feats, cams)
    assert out.shape == (2, 5, 20, 20) and lss.bev_shape == (20, 20)
    depth, context = lss.depth_and_context(feats, cams)
    torch.testing.assert_close(depth.sum(dim=2), torch.ones(2, 1, 4, 8))
    assert context.shape == (2, 1, 5, 4, 8)


def test_lss_with_lidar_depth_needs_points_and_uses_them():
    torch.manual_seed(0)
    lss = one_camera_lss(lidar_depth_channels=8)
    cams = forward_camera()
    feats = torch.randn(1, 1, 4, 4, 8)
    with pytest.raises(ValueError, match='needs the LiDAR points'):
        lss(feats, cams)
    # A point 10 m ahead on the optical axis is seen at the image centre at depth 10.
    image = lss.depth_image([torch.tensor([[10.0, 0.0, 0.0]])], cams)
    assert image.shape == (1, 1, 1, 32, 64)
    assert image[0, 0, 0, 16, 32] == pytest.approx(10.0) and image.count_nonzero() == 1
    assert lss(feats, cams, [torch.tensor([[10.0, 0.0, 0.0]])]).shape == (1, 3, 40, 40)
    # The depth encoder receives exactly that depth map, and the depth distribution follows it:
    # the same image features with the point at 5 m or at 10 m give different distributions.
    lss.eval()
    seen = []
    lss.dtransform.register_forward_hook(lambda module, args, out: seen.append(args[0].clone()))
    near, _ = lss.depth_and_context(feats, cams, [torch.tensor([[5.0, 0.0, 0.0]])])
    far, _ = lss.depth_and_context(feats, cams, [torch.tensor([[10.0, 0.0, 0.0]])])
    for depth, received in ((5.0, seen[0]), (10.0, seen[1])):
        expected = torch.zeros(1, 1, 32, 64)
        expected[0, 0, 16, 32] = depth
        assert torch.equal(received, expected)
    assert not torch.equal(near, far)  # (a random depth encoder: a small difference)


def test_lss_rejects_wrong_feature_shapes():
    lss = one_camera_lss()
    with pytest.raises(ValueError, match=r'\(B, N, 4, 4, 8\)'):
        lss(torch.randn(1, 1, 4, 5, 8), forward_camera())


def test_conv_fuser_computes_the_hand_worked_convolution():
    """Two inputs (1 and 2 channels) concatenated in their order, a 3x3 conv with zero padding,
    BN with its running statistics, ReLU: every output value worked out in float64 loops."""
    fuser = BEVConvFuser([1, 2], 2).eval()
    conv, bn = fuser[0], fuser[1]
    weight = torch.arange(2 * 3 * 3 * 3, dtype=torch.float64).reshape(2, 3, 3, 3) % 7 - 3
    gamma, beta = [1.0, 2.0], [0.5, -1.0]
    mean, var = [1.0, 0.0], [4.0, 0.25]
    with torch.no_grad():
        conv.weight.copy_(weight)
        for param, value in ((bn.weight, gamma), (bn.bias, beta), (bn.running_mean, mean),
                             (bn.running_var, var)):
            param.copy_(torch.tensor(value))
    bn.eps = 0.0
    a = torch.arange(12.0).reshape(1, 1, 3, 4) - 4
    b = torch.arange(24.0).reshape(1, 2, 3, 4) % 5 - 2
    out = fuser([a, b])
    planes = [a[0, 0].double(), b[0, 0].double(), b[0, 1].double()]  # the concatenation
    expected = torch.zeros(2, 3, 4, dtype=torch.float64)
    for o in range(2):
        for i in range(3):
            for j in range(4):
                total = 0.0
                for c in range(3):
                    for di in (-1, 0, 1):
                        for dj in (-1, 0, 1):
                            if 0 <= i + di < 3 and 0 <= j + dj < 4:
                                total += weight[o, c, di + 1, dj + 1] * planes[c][i + di, j + dj]
                value = (total - mean[o]) / var[o]**0.5 * gamma[o] + beta[o]
                expected[o, i, j] = max(value, 0.0)
    assert out.shape == (1, 2, 3, 4)
    assert (expected == 0).any() and (expected > 0).any()  # ReLU has work to do
    torch.testing.assert_close(out[0].double(), expected, rtol=0, atol=1e-5)


def test_conv_fuser_checks_its_inputs():
    fuser = BEVConvFuser([3, 5], 7)
    out = fuser([torch.randn(2, 3, 6, 6), torch.randn(2, 5, 6, 6)])
    assert out.shape == (2, 7, 6, 6)
    with pytest.raises(ValueError, match='channels'):
        fuser([torch.randn(2, 3, 6, 6), torch.randn(2, 5, 6, 7)])
    with pytest.raises(ValueError, match='2 inputs'):
        fuser([torch.randn(2, 3, 6, 6)])


def load_config(path):
    """A config with random image backbone/neck init (no pre-trained file needed)."""
    cfg = Config.fromfile(path)
    drop_image_pretrain(cfg.model)
    return cfg


def test_a_lidar_point_lights_its_own_bev_cell():
    """The LiDAR branch of the CPU LiDAR-only model (pillars, 0.8 m cells from -51.2 m): one
    point at (x, y) = (10.8, -20.4) m lights the BEV cell at row y (38), column x (77) of the
    (B, C, ny, nx) map and, through the three 3x3 layers of its BEV encoder, only cells within 3
    of it; a transposed map would light row 77, column 38."""
    cfg = load_config(osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_'
                               'nus-mini-3d.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    point = torch.tensor([[10.8, -20.4, -1.0, 0.5, 0.0]])
    data = model.data_preprocessor(
        dict(inputs=dict(points=[point]), data_samples=[Det3DDataSample()]), False)
    with torch.no_grad():
        bev = model.extract_lidar_bev(data['inputs'])
    assert bev.shape[0] == 1 and bev.shape[2:] == (128, 128)
    cell = [math.floor((-20.4 + 51.2) / 0.8), math.floor((10.8 + 51.2) / 0.8)]
    assert cell == [38, 77]
    lit = bev[0].abs().amax(dim=0).nonzero()
    assert [38, 77] in lit.tolist() and len(lit) > 9, lit.tolist()
    assert (lit - torch.tensor(cell)).abs().max() <= 3, lit.tolist()


def test_mismatched_camera_and_lidar_grids_fail_at_build_naming_both_shapes():
    cfg = load_config(
        osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_'
                 'nus-mini-3d.py'))
    cfg.model.view_transform.xbound = [-51.2, 51.2, 0.4]  # 256 columns instead of 128
    with pytest.raises(ValueError) as info:
        MODELS.build(cfg.model)
    assert '(128, 256)' in str(info.value) and '(128, 128)' in str(info.value)
    cfg = load_config(
        osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_'
                 'nus-3d.py'))
    cfg.model.view_transform.downsample = 1
    with pytest.raises(ValueError, match=r'\(360, 360\).*\(180, 180\)'):
        MODELS.build(cfg.model)


def test_head_grid_must_match_the_decoder():
    cfg = load_config(
        osp.join(ROOT, 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'))
    m = cfg.model
    m.bbox_head.train_cfg.out_size_factor = 1
    with pytest.raises(ValueError, match=r'decoder outputs \(64, 64\).*\(128, 128\)'):
        check_bev_grids(m.get('view_transform'), m.pts_middle_encoder, m.pts_backbone,
                        m.pts_neck, m.bbox_head)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p)[:-3] for p in CONFIGS])
def test_every_detector_config_runs_a_loss_and_a_predict_step(path):
    cfg = load_config(path)
    if 'nus-3d' in path:
        cfg, half = shrink_paper_config(cfg)
    else:
        half = 51.2
    model = MODELS.build(cfg.model)
    model.init_weights() if 'nus-mini' in path else None
    camera_only = model.pts_middle_encoder is None
    batch = random_batch(cfg, half, with_points=not camera_only)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    # Every parameter is on the loss's graph; the first layer of each branch gets a gradient
    # (mmdet's ResNet zero-initialises the last BN of each residual block, so at init its
    # residual convs legitimately get none).
    # (mmdet's FPN always builds an output conv per level; only img_neck_out_index is used.)
    used_level = f'img_neck.fpn_convs.{model.img_neck_out_index}.'
    unused = [
        n for n, p in model.named_parameters() if p.requires_grad and p.grad is None
        and not (n.startswith('img_neck.fpn_convs.') and not n.startswith(used_level))
    ]
    assert not unused, unused
    firsts = [model.bbox_head, model.pts_backbone]
    firsts += [next(model.img_backbone.children())] if model.with_camera else []
    if model.with_lidar:  # HardSimpleVFE and PointPillarsScatter have no weights
        firsts += [next(m for m in (model.pts_voxel_encoder, model.pts_middle_encoder)
                        if any(True for _ in m.parameters()))]
    for module in firsts:
        assert any(p.grad.abs().sum() > 0 for p in module.parameters()), type(module).__name__
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        results = model(**data, mode='predict')
    assert len(results) == 2
    pred = results[0].pred_instances_3d
    assert pred.bboxes_3d.tensor.shape[1] == 9 and len(pred.scores_3d) == len(pred.labels_3d)


def test_camera_only_configs_have_no_lidar_anywhere():
    for path in CONFIGS:
        if '_cam_' not in osp.basename(path):
            continue
        cfg = load_config(path)
        m = cfg.model
        assert m.pts_voxel_encoder is None and m.pts_middle_encoder is None
        assert m.view_transform.lidar_depth_channels == 0
        assert not m.data_preprocessor.voxel
        for loader in (cfg.train_dataloader, cfg.test_dataloader):
            dataset = loader.dataset.get('dataset', loader.dataset)
            types = [t['type'] for t in dataset.pipeline]
            assert not any('Points' in t for t in types), (path, types)
            assert 'points' not in dataset.pipeline[-1]['keys']
