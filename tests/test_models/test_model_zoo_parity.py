"""The paper teacher computes what mmdet3d 1.4's ``projects/BEVFusion`` computes.

Reference facts come from upstream's own code (``tests/data/upstream_bevfusion``, shipped
with the tests; see its README for their provenance; ``SIMDISTILL_FIXTURES`` points elsewhere):

* ``bevfusion-parity-small.pt``: a reduced-size upstream LiDAR + camera BEVFusion (seeded
  weights, BN statistics), one and two input samples and every intermediate output. Its weights
  go through ``tools/model_converters/mmdet3d_bevfusion.py``'s conversion into the project's
  teacher, built from the paper config with the fixture's reduced sizes; every stage must match.
* ``mmdet3d-bevfusion-state-dict.json``: every key and shape of the two published models; a
  state dict of those shapes converts and loads strictly into the full-size paper configs.

Tolerance: a tensor matches when ``max |ours - upstream| <= REL_TOL * max(1, max |upstream|)``.
Upstream itself moves SECONDFPN maps by 4e-5 (max 8.3) and boxes by 7e-5 (max 21 m) between a
batch of one and a batch of two (``checks.b2_sample0_vs_b1_maxabs``); REL_TOL = 3e-5 allows a
few times that float32 noise and is thousands of times below what a transposed kernel, a
swapped channel order or a missing layer produces (O(1) differences). Discrete outputs (voxel
coordinates, depth-map support, proposal cells and classes, box labels) must be equal.
"""
import copy
import json
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from simdistill.model_conversion import (CONVERTER, convert_mit_han_lab_bevfusion,
                                         convert_mmdet3d_bevfusion)
from simdistill.models.distillers.teacher import load_teacher_weights
from simdistill.models.view_transforms import frustum_to_lidar, stack_camera_matrices
from simdistill.ops.bev_pool import bev_pool
from simdistill.checkpoint.state_dicts import plain_state_dict
from simdistill.testing import ROOT

REPO = Path(ROOT)
FIXTURES = Path(os.environ.get('SIMDISTILL_FIXTURES',
                              REPO / 'tests' / 'data' / 'upstream_bevfusion'))
PARITY = FIXTURES / 'bevfusion-parity-small.pt'
MANIFEST = FIXTURES / 'mmdet3d-bevfusion-state-dict.json'
TEACHER_CONFIG = REPO / 'configs/bevfusion/' \
    'bevfusion_lidar-cam_swint-voxel0075-transfusion_8xb4-cyclic-20e_nus-3d.py'
LIDAR_CONFIG = REPO / 'configs/bevfusion/bevfusion_lidar_voxel0075_8xb4-cyclic-20e_nus-3d.py'
# upstream config name (manifest key) -> the paper config that must load its weights
PUBLISHED = {
    'bevfusion_lidar-cam_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d': TEACHER_CONFIG,
    'bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d': LIDAR_CONFIG,
}
REL_TOL = 3e-5



def test_the_upstream_fixtures_are_there():
    """A missing fixture fails here (and in every test that reads it), never skips."""
    missing = [p.name for p in (PARITY, MANIFEST, FIXTURES / 'bevfusion-parity-small.json')
               if not p.is_file()]
    assert not missing, f'upstream BEVFusion fixtures {missing} not found in {FIXTURES}'


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    init_default_scope('mmdet3d')
    yield
    torch.set_num_threads(threads)


def bev(upstream: torch.Tensor) -> torch.Tensor:
    """Upstream's ``(B, C, X, Y)`` BEV map in the project's ``(B, C, Y, X)``."""
    return upstream.transpose(-1, -2)


def reduced_teacher_cfg(fixture_cfg: dict) -> dict:
    """The paper teacher's model config with the fixture's reduced sizes.

    ``fixture_cfg`` is upstream's reduced ``model`` (the fixture JSON's ``model_config``);
    upstream keys map to the project's as: ``voxelize_cfg`` -> ``voxel_layer``;
    ``sparse_shape`` ``[X, Y, Z]`` -> ``[Z, Y, X]`` (mmdet3d's voxel order; the paper config's
    ``encoder_paddings`` are already in that order); ``hidden_channel`` ->
    ``hidden_channels``; the decoder layer's head count and FFN width; the head's grid.
    Everything else (layer types, norms, the rest of each block) is the paper config's.
    """
    cfg = Config.fromfile(str(TEACHER_CONFIG)).model
    up = fixture_cfg
    vox = up['data_preprocessor']['voxelize_cfg']
    cfg.data_preprocessor.voxel_layer.update(
        max_num_points=vox['max_num_points'], point_cloud_range=vox['point_cloud_range'],
        voxel_size=vox['voxel_size'], max_voxels=tuple(vox['max_voxels']))
    swin = up['img_backbone']
    cfg.img_backbone.update(embed_dims=swin['embed_dims'], num_heads=swin['num_heads'],
                            init_cfg=None)
    cfg.img_neck.update(in_channels=up['img_neck']['in_channels'],
                        out_channels=up['img_neck']['out_channels'])
    vt = up['view_transform']
    cfg.view_transform.update({k: vt[k] for k in (
        'in_channels', 'out_channels', 'image_size', 'feature_size', 'xbound', 'ybound',
        'zbound', 'dbound', 'downsample')})
    enc = up['pts_middle_encoder']
    cfg.pts_middle_encoder.update(
        sparse_shape=enc['sparse_shape'][::-1], base_channels=enc['base_channels'],
        output_channels=enc['output_channels'],
        encoder_channels=tuple(tuple(c) for c in enc['encoder_channels']))
    cfg.fusion_layer.update(up['fusion_layer'], type=cfg.fusion_layer.type)
    for key in ('in_channels', 'out_channels'):
        cfg.pts_backbone[key] = up['pts_backbone'][key]
        cfg.pts_neck[key] = up['pts_neck'][key]
    head = up['bbox_head']
    layer = head['decoder_layer']
    cfg.bbox_head.update(
        in_channels=head['in_channels'], hidden_channels=head['hidden_channel'],
        num_proposals=head['num_proposals'],
        decoder_layer=dict(
            self_attn_cfg=dict(num_heads=layer['self_attn_cfg']['num_heads']),
            cross_attn_cfg=dict(num_heads=layer['cross_attn_cfg']['num_heads']),
            ffn_cfg=dict(feedforward_channels=layer['ffn_cfg']['feedforward_channels'])))
    train = head['train_cfg']
    grid = dict(grid_size=train['grid_size'], voxel_size=train['voxel_size'],
                out_size_factor=train['out_size_factor'],
                point_cloud_range=train['point_cloud_range'])
    cfg.bbox_head.train_cfg.update(grid)
    cfg.bbox_head.test_cfg.update(
        grid, post_center_limit_range=head['bbox_coder']['post_center_range'])
    return cfg


@pytest.fixture(scope='module')
def fixture():
    return torch.load(PARITY, weights_only=True)


@pytest.fixture(scope='module')
def reduced_teacher(fixture):
    fixture_cfg = json.loads((FIXTURES / 'bevfusion-parity-small.json').read_text())
    model = MODELS.build(reduced_teacher_cfg(fixture_cfg['model_config']))
    state = convert_mmdet3d_bevfusion(plain_state_dict(fixture['state_dict'], str(PARITY)))
    model.load_state_dict(state, strict=True)
    return model.eval()


def project_inputs(inputs: dict):
    """The fixture's batch in the project's form: points, images and per-sample metas.

    Meta mapping: ``cam2img`` and ``lidar2cam`` as upstream packs them (the project projects
    with ``cam2img @ lidar2cam``, upstream with its ``lidar2img`` and ``cam2lidar``: the same
    matrices to 1.5e-5, ``checks.lidar2img_vs_cam2img_at_lidar2cam_maxabs``),
    ``img_aug_matrix`` and ``lidar_aug_matrix`` unchanged.
    """
    batch = inputs['imgs'].shape[0]
    points = [inputs[f'points_{i}'] for i in range(batch)]
    metas = [
        dict(cam2img=inputs['cam2img'][i], lidar2cam=inputs['lidar2cam'][i],
             img_aug_matrix=inputs['img_aug_matrix'][i],
             lidar_aug_matrix=inputs['lidar_aug_matrix'][i], box_type_3d=LiDARInstance3DBoxes)
        for i in range(batch)
    ]
    return points, inputs['imgs'], metas


def assert_close(name: str, ours: torch.Tensor, upstream: torch.Tensor) -> None:
    assert ours.shape == upstream.shape, f'{name}: shape {tuple(ours.shape)} vs upstream ' \
                                         f'{tuple(upstream.shape)}'
    err = (ours.float() - upstream.float()).abs().max().item()
    tol = REL_TOL * max(1.0, upstream.abs().max().item())
    assert err <= tol, f'{name}: max |ours - upstream| = {err:.3g} > {tol:.3g}'


@pytest.mark.parametrize('batch', ['b1', 'b2'])
def test_reduced_teacher_matches_upstream_stage_by_stage(reduced_teacher, fixture, batch):
    model, (inputs, expected) = reduced_teacher, fixture[batch].values()
    points, imgs, metas = project_inputs(inputs)
    num = imgs.shape[0]
    with torch.no_grad():
        # camera branch, layer by layer
        feats = model.img_backbone(imgs.flatten(0, 1))
        for k, feat in enumerate(feats):
            if f'img_backbone_out_{k}' in expected:  # b2 omits these
                assert_close(f'img_backbone_out_{k}', feat, expected[f'img_backbone_out_{k}'])
        neck = model.img_neck(feats)
        for k, feat in enumerate(neck):
            if f'img_neck_out_{k}' in expected:
                assert_close(f'img_neck_out_{k}', feat, expected[f'img_neck_out_{k}'])
        vt = model.view_transform
        cameras = stack_camera_matrices(metas, imgs.device)
        depth_map = vt.depth_image(points, cameras)
        assert torch.equal(depth_map > 0, expected['vt_depth_map'] > 0), 'vt_depth_map support'
        assert_close('vt_depth_map', depth_map, expected['vt_depth_map'])
        img_feats = neck[model.img_neck_out_index].view(num, -1, *neck[0].shape[1:])
        depth, context = vt.depth_and_context(img_feats, cameras, points)
        assert_close('vt_depth_prob', depth.flatten(0, 1), expected['vt_depth_prob'])
        geom = frustum_to_lidar(vt.frustum, cameras['cam2img'], cameras['lidar2cam'],
                                cameras['img_aug_matrix'], cameras['lidar_aug_matrix'])
        assert_close('vt_geom', geom, expected['vt_geom'])
        pooled = bev_pool(depth, context, vt.plan_for(cameras), impl=vt.bev_pool_impl)
        assert_close('cam_bev_pre_downsample', pooled.flatten(1, 2),
                     bev(expected['cam_bev_pre_downsample']))

        # LiDAR branch: hard voxelization (first 10 points, mean), coordinates (z, y, x)
        voxels = model.data_preprocessor.voxelize(points, [])
        coors = voxels['coors']
        assert torch.equal(coors[:, [0, 3, 2, 1]].int(), expected['voxel_coors'])
        assert torch.equal(voxels['num_points'].int(), expected['voxel_num_points'])
        assert_close('voxel_feats', model.pts_voxel_encoder(voxels['voxels'],
                                                            voxels['num_points'], coors),
                     expected['voxel_feats'])

        # the detector's own path from here on
        batch_inputs = dict(imgs=imgs, points=points, voxels=voxels)
        stages = model.extract_bev_features(batch_inputs, metas)
        assert_close('cam_bev', stages['camera_bev'], bev(expected['cam_bev']))
        assert_close('lidar_bev', stages['lidar_bev'], bev(expected['lidar_bev']))
        assert_close('fused_bev', stages['fused_bev'], bev(expected['fused_bev']))
        second = model.pts_backbone(stages['fused_bev'])
        for k, feat in enumerate(second):
            assert_close(f'second_out_{k}', feat, bev(expected[f'second_out_{k}']))
        assert_close('secondfpn_out_0', stages['decoder'][0], bev(expected['secondfpn_out_0']))

        head = model.bbox_head
        assert_close('head_shared_conv_out', head.shared_conv(stages['decoder'][0]),
                     bev(expected['head_shared_conv_out']))
        preds = head(stages['decoder'])[0][0]
        assert_close('head_dense_heatmap', preds['heatmap'], bev(expected['head_dense_heatmap']))
        # proposals, in score order as upstream's top-k: same classes at the same cells
        assert torch.equal(preds['query_labels'], expected['head_query_labels'])
        assert torch.equal(preds['query_pos'], expected['head_decoder0_in_query_pos'])
        assert_close('head_query_heatmap_score', preds['query_heatmap_score'].transpose(1, 2),
                     expected['head_query_heatmap_score'])
        assert_close('head_center', (preds['center'] + preds['query_pos']).transpose(1, 2),
                     expected['head_center'])
        for name in ('height', 'dim', 'rot', 'vel'):
            assert_close(f'head_{name}', preds[name].transpose(1, 2), expected[f'head_{name}'])
        assert_close('head_heatmap', preds['cls_logits'].transpose(1, 2),
                     expected['head_heatmap'])

        # decoded boxes through the detector's predict (ours best first; upstream in
        # proposal order: compare in upstream's order sorted by score)
        samples = []
        for meta in metas:
            sample = Det3DDataSample()
            sample.set_metainfo(meta)
            samples.append(sample)
        results = model.predict(batch_inputs, samples)
    for i, result in enumerate(results):
        pred = result.pred_instances_3d
        order = expected[f'pred_scores_3d_{i}'].argsort(descending=True)
        assert_close(f'pred_scores_3d_{i}', pred.scores_3d, expected[f'pred_scores_3d_{i}'][order])
        assert torch.equal(pred.labels_3d.int(), expected[f'pred_labels_3d_{i}'][order])
        assert_close(f'pred_bboxes_3d_{i}', pred.bboxes_3d.tensor,
                     expected[f'pred_bboxes_3d_{i}'][order])


# --------------------------------------------------------------------------------------------
# the published models' keys and shapes
# --------------------------------------------------------------------------------------------
def manifest_state(name: str) -> 'OrderedDict[str, torch.Tensor]':
    """Random tensors with every key and shape of a published upstream model, marked spconv-2
    as upstream's ``state_dict()`` marks its sparse convs."""
    shapes = json.loads(MANIFEST.read_text())[name]
    gen = torch.Generator().manual_seed(0)
    state = OrderedDict((k, torch.randn(v, generator=gen) if v else torch.tensor(0))
                        for k, v in shapes.items())
    state._metadata = OrderedDict(
        (k.rsplit('.', 1)[0], {'version': 2}) for k, v in shapes.items() if len(v) == 5)
    return state


def build_paper_model(config: Path):
    cfg = Config.fromfile(str(config)).model
    if cfg.get('img_backbone') is not None:
        cfg.img_backbone.init_cfg = None  # no download
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def paper_models():
    return {name: build_paper_model(config) for name, config in PUBLISHED.items()}


@pytest.mark.parametrize('name', list(PUBLISHED))
def test_published_state_dict_converts_and_loads_strictly(paper_models, name, tmp_path):
    model = paper_models[name]
    upstream = manifest_state(name)
    converted = convert_mmdet3d_bevfusion(upstream)
    expected = model.state_dict()
    assert set(converted) == set(expected)
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in expected.items()}
    model.load_state_dict(converted, strict=True)
    # the loaded BEV kernels are upstream's, spatially transposed; sparse kernels permuted
    key = 'bbox_head.shared_conv.weight'
    assert torch.equal(model.state_dict()[key], upstream[key].transpose(2, 3))
    key = 'pts_middle_encoder.conv_out.0.weight'
    assert torch.equal(model.state_dict()[key], upstream[key].permute(0, 3, 2, 1, 4))

    # the file the converter writes is what teacher_ckpt and load_from (mmengine's
    # load_checkpoint) read
    path = tmp_path / 'converted.pth'
    torch.save(converted, path)
    for loader in (lambda: load_teacher_weights(model, str(path)),
                   lambda: load_checkpoint(model, str(path), map_location='cpu', strict=True)):
        for value in model.state_dict().values():
            value.zero_()
        loader()
        assert torch.equal(model.state_dict()[key], upstream[key].permute(0, 3, 2, 1, 4))


def test_spconv1_layout_converts_too():
    # a file saved with mmcv / spconv 1.x kernels (k, k, k, in, out) and no version-2 marker
    name = 'bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d'
    spconv2 = manifest_state(name)
    spconv1 = OrderedDict((k, v.permute(1, 2, 3, 4, 0) if v.dim() == 5 else v)
                          for k, v in spconv2.items())
    a, b = convert_mmdet3d_bevfusion(spconv2), convert_mmdet3d_bevfusion(spconv1)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_strict_load_names_missing_unexpected_and_misshaped(paper_models, tmp_path):
    name = 'bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d'
    state = convert_mmdet3d_bevfusion(manifest_state(name))
    del state['bbox_head.class_encoding.bias']
    state['bbox_head.extra.weight'] = torch.zeros(1)
    state['pts_neck.deblocks.0.1.weight'] = torch.zeros(3)
    path = tmp_path / 'broken.pth'
    torch.save(state, path)
    with pytest.raises(KeyError) as err:
        load_teacher_weights(paper_models[name], str(path))
    for key in ('bbox_head.class_encoding.bias', 'bbox_head.extra.weight',
                'pts_neck.deblocks.0.1.weight: checkpoint (3,)'):
        assert key in str(err.value)
    with pytest.raises(RuntimeError) as err:
        paper_models[name].load_state_dict(state, strict=True)
    for key in ('bbox_head.class_encoding.bias', 'bbox_head.extra.weight',
                'pts_neck.deblocks.0.1.weight'):
        assert key in str(err.value)


@pytest.mark.parametrize('name', list(PUBLISHED))
def test_unconverted_upstream_weights_fail_naming_the_converter(paper_models, name, tmp_path):
    model = paper_models[name]
    raw = manifest_state(name)
    with pytest.raises(ValueError, match=CONVERTER):
        model.load_state_dict(raw, strict=False)
    path = tmp_path / 'raw.pth'
    torch.save({'state_dict': raw}, path)
    with pytest.raises(ValueError, match=CONVERTER):
        load_teacher_weights(model, str(path))
    with pytest.raises(ValueError, match='already converted'):
        convert_mmdet3d_bevfusion(convert_mmdet3d_bevfusion(raw))


def test_raw_fixture_fails_naming_the_converter(reduced_teacher, fixture):
    with pytest.raises(ValueError, match=CONVERTER):
        copy.deepcopy(reduced_teacher).load_state_dict(fixture['state_dict'])


# --------------------------------------------------------------------------------------------
# the converter's command line
# --------------------------------------------------------------------------------------------
def run_converter(monkeypatch, src: Path, out: Path) -> None:
    import runpy
    monkeypatch.setattr('sys.argv', ['mmdet3d_bevfusion.py', str(src), str(out)])
    runpy.run_path(str(REPO / CONVERTER), run_name='__main__')


def test_converter_cli_writes_a_loadable_state_dict(monkeypatch, tmp_path, fixture,
                                                    reduced_teacher):
    src, out = tmp_path / 'upstream.pth', tmp_path / 'converted.pth'
    torch.save({'state_dict': fixture['state_dict'], 'meta': {'epoch': 20}}, src)
    run_converter(monkeypatch, src, out)
    state = torch.load(out, weights_only=True)
    model = copy.deepcopy(reduced_teacher)
    model.load_state_dict(state, strict=True)
    key = 'fusion_layer.0.weight'
    assert torch.equal(model.state_dict()[key], fixture['state_dict'][key].transpose(2, 3))


class NotATensor:
    pass


@pytest.mark.parametrize('payload, error, words', [
    ({'state_dict': {'w': torch.zeros(1), 'step': 3}}, TypeError, ["'step'", 'int']),
    ([torch.zeros(1)], TypeError, ['list']),
    (NotATensor(), pickle.UnpicklingError, ['weights_only']),
])
def test_converter_refuses_anything_but_a_state_dict_of_tensors(monkeypatch, tmp_path, payload,
                                                                 error, words):
    src, out = tmp_path / 'bad.pth', tmp_path / 'out.pth'
    torch.save(payload, src)
    with pytest.raises(error) as err:
        run_converter(monkeypatch, src, out)
    for word in [str(src)] + words:
        assert word in str(err.value)
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# the original release (mit-han-lab/bevfusion, mmdet3d 0.x)
# --------------------------------------------------------------------------------------------
RELEASE_PREFIXES = {
    'img_backbone.': 'encoders.camera.backbone.', 'img_neck.': 'encoders.camera.neck.',
    'view_transform.': 'encoders.camera.vtransform.',
    'pts_middle_encoder.': 'encoders.lidar.backbone.', 'fusion_layer.': 'fuser.',
    'pts_backbone.': 'decoder.backbone.', 'pts_neck.': 'decoder.neck.',
    'bbox_head.': 'heads.object.'
}
# mit-han-lab's TransformerDecoderLayer (mmdet3d/models/utils/transformer.py) names
RELEASE_DECODER = {
    'self_attn.attn.': 'self_attn.', 'cross_attn.attn.': 'multihead_attn.',
    'ffn.layers.0.0.': 'linear1.', 'ffn.layers.1.': 'linear2.', 'norms.0.': 'norm1.',
    'norms.1.': 'norm2.', 'norms.2.': 'norm3.'
}


def release_state(upstream) -> 'OrderedDict[str, torch.Tensor]':
    """An upstream (mmdet3d 1.x) state dict as the release saves the same weights: its names,
    spconv 1.x kernels ``(k_x, k_y, k_z, in, out)``, no version marker."""
    out = OrderedDict()
    for key, value in upstream.items():
        prefix = next(p for p in RELEASE_PREFIXES if key.startswith(p))
        key = RELEASE_PREFIXES[prefix] + key[len(prefix):]
        for new, old in RELEASE_DECODER.items():
            key = key.replace(f'.decoder.0.{new}', f'.decoder.0.{old}')
        out[key] = value.permute(1, 2, 3, 4, 0) if value.dim() == 5 else value
    return out


def test_release_format_converts_to_the_same_weights(monkeypatch, tmp_path, fixture,
                                                     reduced_teacher):
    release = release_state(fixture['state_dict'])
    assert 'heads.object.decoder.0.multihead_attn.in_proj_weight' in release
    expected = convert_mmdet3d_bevfusion(fixture['state_dict'])
    converted = convert_mit_han_lab_bevfusion(release)
    assert list(converted) == list(expected)
    assert all(torch.equal(converted[k], expected[k]) for k in expected)
    # the command line tells the formats apart by their names
    src, out = tmp_path / 'release.pth', tmp_path / 'converted.pth'
    torch.save({'state_dict': release}, src)
    run_converter(monkeypatch, src, out)
    copy.deepcopy(reduced_teacher).load_state_dict(torch.load(out, weights_only=True))

    release['heads.map.classifier.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='heads.map.classifier.weight'):
        convert_mit_han_lab_bevfusion(release)
