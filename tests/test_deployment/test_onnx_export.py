"""ONNX export of the camera-only student: onnxruntime reproduces PyTorch's raw head maps and
decoded boxes, with a dynamic batch and per-sample cameras, and refuses another geometry."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from simdistill.testing import (assert_maps_close, box_values, drop_image_pretrain,
                               match_box_values, random_batch)

pytest.importorskip('onnxruntime')
from simdistill.deployment import (DeployableCameraDetector, ONNXCameraDetector,  # noqa: E402
                                   check_deployable, decode_head_outputs, export_onnx,
                                   plan_inputs)

STUDENT = 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'
BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'


@pytest.fixture(scope='module', autouse=True)
def mmdet3d_scope():
    init_default_scope('mmdet3d')


def build(path, seed=0, **model_overrides):
    cfg = Config.fromfile(path)
    drop_image_pretrain(cfg.model)
    cfg.model.update(model_overrides)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # physical box sizes (exp of small logits), as a trained head gives
        for task_head in model.bbox_head.task_heads:
            task_head.dim[-1].weight.mul_(0.01)
    return cfg, model.eval()


def batch_of(model, cfg, batch_size, seed=0):
    half = cfg.point_cloud_range[3]
    data = model.data_preprocessor(
        random_batch(cfg, half, batch_size=batch_size, with_points=False, seed=seed), False)
    metas = [s.metainfo for s in data['data_samples']]
    imgs, cameras = model.images_and_cameras(data['inputs'], metas)
    return data, metas, imgs, cameras


def match_boxes(a, b):
    """:func:`match_box_values` of two sets of predicted instances."""
    return match_box_values(*box_values(a), *box_values(b))


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    cfg, model = build(STUDENT)
    _, _, imgs, cameras = batch_of(model, cfg, batch_size=1, seed=1)
    path = str(tmp_path_factory.mktemp('onnx') / 'student.onnx')
    geometry = export_onnx(model, imgs, cameras, path)
    return dict(cfg=cfg, model=model, path=path, geometry=geometry)


def test_onnxruntime_matches_pytorch_with_a_dynamic_batch(exported):
    """Traced at batch 1, run at batch 2 with two different camera rigs (one plan each)."""
    cfg, model = exported['cfg'], exported['model']
    data, metas, imgs, cameras = batch_of(model, cfg, batch_size=2, seed=2)
    assert not torch.equal(cameras['lidar2cam'][0], cameras['lidar2cam'][1])
    runner = ONNXCameraDetector(exported['path'], model)
    got = runner.run(imgs, cameras)
    with torch.no_grad():
        eager = model.bbox_head(model.extract_bev_features(data['inputs'], metas)['decoder'])
        graph = DeployableCameraDetector(model)(imgs, *plan_inputs(model, cameras).values())
    flat = [eager[t][0][name] for t, task in enumerate(model.bbox_head.task_heads)
            for name in task.heads]
    assert len(got) == len(flat) == len(graph)
    for g, e, p in zip(got, flat, graph):
        assert g.shape[0] == 2
        # the traced module (gather + scatter-add pool) equals the model's own forward (plan
        # kernel) and onnxruntime equals both
        assert_maps_close(p, e)
        assert_maps_close(g, e)
    with torch.no_grad():
        expected = model.predict(data['inputs'], data['data_samples'])
    decoded = runner.predict(imgs, cameras, metas)
    for pt, ox in zip(expected, decoded):
        pt = pt.pred_instances_3d
        assert len(pt.scores_3d) == len(ox.scores_3d) > 0
        assert match_boxes(pt, ox) < 1e-3


def test_post_processing_is_the_pytorch_heads(exported):
    """decode_head_outputs on the PyTorch maps gives exactly CenterHead.predict's boxes."""
    cfg, model = exported['cfg'], exported['model']
    data, metas, imgs, cameras = batch_of(model, cfg, batch_size=1, seed=3)
    with torch.no_grad():
        maps = DeployableCameraDetector(model)(imgs, *plan_inputs(model, cameras).values())
        expected = model.bbox_head.predict(
            model.extract_bev_features(data['inputs'], metas)['decoder'], data['data_samples'])
    got = decode_head_outputs(model.bbox_head, [m.numpy() for m in maps], metas)
    assert match_boxes(expected[0], got[0]) < 1e-4


def test_graph_metadata_names_the_geometry(exported):
    import onnx
    proto = onnx.load(exported['path'])
    assert proto.opset_import[0].version == 17
    ops = {node.op_type for node in proto.graph.node}
    assert {'GridSample', 'ScatterElements', 'Gather'} <= ops  # GCM, BEV pool
    assert exported['geometry']['image_size'] == [128, 320]
    assert exported['geometry']['depth_bins'] == 51


def test_runner_refuses_another_geometry(exported):
    _, other = build(STUDENT, view_transform=dict(
        Config.fromfile(STUDENT).model.view_transform, dbound=[1.0, 52.0, 0.5]),
        sim_lidar_view_transform=dict(
            Config.fromfile(STUDENT).model.sim_lidar_view_transform, dbound=[1.0, 52.0, 0.5]))
    with pytest.raises(ValueError, match='depth_bins: graph 51 vs config 102'):
        ONNXCameraDetector(exported['path'], other)
    runner = ONNXCameraDetector(exported['path'], exported['model'])
    cfg, model = exported['cfg'], exported['model']
    _, _, imgs, cameras = batch_of(model, cfg, batch_size=1)
    with pytest.raises(ValueError, match=r'takes images \(B, N, 3, 128, 320\)'):
        runner.run(imgs[..., :160], cameras)


def test_baseline_exports_and_teacher_is_refused(tmp_path):
    cfg, baseline = build(BASELINE)
    _, _, imgs, cameras = batch_of(baseline, cfg, batch_size=1)
    export_onnx(baseline, imgs, cameras, str(tmp_path / 'baseline.onnx'))
    assert (tmp_path / 'baseline.onnx').stat().st_size > 1e6
    _, teacher = build(TEACHER)
    with pytest.raises(ValueError, match='camera-only model.*LiDAR branch'):
        check_deployable(teacher)
