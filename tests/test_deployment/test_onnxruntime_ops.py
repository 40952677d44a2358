"""The onnxruntime custom-op library: each node against an independent reference, its errors,
its build cache, and the student's custom-op graph against PyTorch."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from simdistill.testing import assert_maps_close, drop_image_pretrain, random_batch

ort = pytest.importorskip('onnxruntime')
onnx = pytest.importorskip('onnx')
from onnx import TensorProto, helper  # noqa: E402

from simdistill.deployment import (ONNXCameraDetector, export_onnx,  # noqa: E402
                                   flatten_head_outputs)
from simdistill.deployment.onnx import uses_custom_ops  # noqa: E402
from simdistill.deployment.onnxruntime_ops import (OnnxruntimeOpsBuildError,  # noqa: E402
                                                   build_directory, library_path)
from simdistill.ops.deformable_attention.function import mmcv_pytorch_path  # noqa: E402

STUDENT = 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'


def session_of(node, inputs, path):
    """An onnxruntime session of a one-node graph in the ``simdistill`` domain."""
    graph = helper.make_graph(
        [node], 'one_node',
        [helper.make_tensor_value_info(name, dtype, None) for name, dtype in inputs],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17),
                                                    helper.make_opsetid('simdistill', 1)])
    onnx.save(model, str(path))
    options = ort.SessionOptions()
    options.register_custom_ops_library(str(library_path()))
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def random_pool_inputs(seed=0, batch=2, cells=150, channels=5, points=900):
    """Depth (B, N, D, H, W), rows (B*N*H*W, C) and a sorted plan with repeated and empty
    cells in every sample; cells (150) span three 64-cell tiles, the last one short."""
    rng = np.random.default_rng(seed)
    depth = rng.random((batch, 2, 4, 3, 5), dtype=np.float32)
    rows = rng.standard_normal((batch * 2 * 3 * 5, channels)).astype(np.float32)
    ranks_depth = rng.integers(0, depth.size, points)
    ranks_feat = rng.integers(0, rows.shape[0], points)
    used = rng.choice(batch * cells, size=batch * cells // 3, replace=False)  # 2/3 stay empty
    ranks_bev = np.sort(rng.choice(used, size=points))
    return depth, rows, ranks_depth, ranks_feat, ranks_bev


def pool_reference(depth, rows, ranks_depth, ranks_feat, ranks_bev, batch, cells):
    """float64 sum of depth x row per cell, by np.add.at: (B, C, cells)."""
    out = np.zeros((batch * cells, rows.shape[1]))
    np.add.at(out, ranks_bev, depth.reshape(-1)[ranks_depth, None].astype(np.float64)
              * rows[ranks_feat].astype(np.float64))
    return out.reshape(batch, cells, -1).transpose(0, 2, 1)


POOL_INPUTS = [('depth', TensorProto.FLOAT), ('rows', TensorProto.FLOAT),
               ('ranks_depth', TensorProto.INT64), ('ranks_feat', TensorProto.INT64),
               ('ranks_bev', TensorProto.INT64)]


@pytest.fixture(scope='module')
def pool_session(tmp_path_factory):
    node = helper.make_node('BEVPool', [n for n, _ in POOL_INPUTS], ['out'], domain='simdistill',
                            cells=150)
    return session_of(node, POOL_INPUTS, tmp_path_factory.mktemp('pool') / 'pool.onnx')


def run_pool(session, depth, rows, rd, rf, rb):
    return session.run(None, dict(depth=depth, rows=rows, ranks_depth=rd, ranks_feat=rf,
                                  ranks_bev=rb))[0]


def test_bev_pool_node_equals_a_float64_scatter(pool_session):
    depth, rows, rd, rf, rb = random_pool_inputs()
    got = run_pool(pool_session, depth, rows, rd, rf, rb)
    expected = pool_reference(depth, rows, rd, rf, rb, batch=2, cells=150)
    assert got.shape == (2, 5, 150)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert (got == 0).all(axis=1).sum() >= 150  # the empty cells are written as zeros


def test_bev_pool_node_hand_worked(tmp_path):
    """Two points in cell 1, one in cell 3 of a one-sample, 4-cell grid, one channel."""
    with_cells = helper.make_node('BEVPool', [n for n, _ in POOL_INPUTS], ['out'],
                                  domain='simdistill', cells=4)
    session = session_of(with_cells, POOL_INPUTS, tmp_path / 'hand.onnx')
    depth = np.array([0.5, 0.25, 1.0], np.float32).reshape(1, 1, 3, 1, 1)
    rows = np.array([[2.0], [10.0]], np.float32)
    got = run_pool(session, depth, rows, np.array([0, 1, 2]), np.array([0, 1, 1]),
                   np.array([1, 1, 3]))
    # cell 1: 0.5 * 2 + 0.25 * 10 = 3.5; cell 3: 1.0 * 10 = 10
    np.testing.assert_array_equal(got, np.array([[[0.0, 3.5, 0.0, 10.0]]], np.float32))


@pytest.mark.parametrize('bad, message', [
    ('unsorted', 'ranks_bev is not sorted at point'),
    ('cell', 'indexes out of range'),
    ('feat', 'indexes out of range'),
    ('length', 'differ in length'),
])
def test_bev_pool_node_names_bad_plans(pool_session, bad, message):
    depth, rows, rd, rf, rb = random_pool_inputs()
    if bad == 'unsorted':
        rb = rb.copy()
        rb[[10, 500]] = rb[[500, 10]]
    elif bad == 'cell':
        rb = rb.copy()
        rb[-1] = 2 * 150
    elif bad == 'feat':
        rf = rf.copy()
        rf[3] = rows.shape[0]
    else:
        rf = rf[:-1]
    with pytest.raises(Exception, match=message) as error:
        run_pool(pool_session, depth, rows, rd, rf, rb)
    assert 'simdistill::BEVPool' in str(error.value)


MSDA_INPUTS = [('value', TensorProto.FLOAT), ('shapes', TensorProto.INT64),
               ('offsets', TensorProto.FLOAT), ('weights', TensorProto.FLOAT),
               ('reference', TensorProto.FLOAT)]


@pytest.mark.parametrize('head_dims', [4, 3])  # a compiled-in width and the generic loop
def test_msda_node_equals_mmcv_in_float64(tmp_path, head_dims):
    """Two levels, offsets reaching well outside the maps, against mmcv's grid_sample path."""
    g = torch.Generator().manual_seed(head_dims)
    shapes = torch.tensor([[6, 7], [3, 4]])
    B, Q, M, L, P = 2, 11, 3, 2, 5
    K = int((shapes[:, 0] * shapes[:, 1]).sum())
    value = torch.randn(B, K, M, head_dims, generator=g)
    offsets = torch.randn(B, Q, M, L, P, 2, generator=g) * 4
    weights = torch.rand(B, Q, M, L, P, generator=g)
    reference = torch.rand(B, Q, L, 2, generator=g) * 1.2 - 0.1
    node = helper.make_node('MSDeformAttn', [n for n, _ in MSDA_INPUTS], ['out'],
                            domain='simdistill')
    session = session_of(node, MSDA_INPUTS, tmp_path / 'msda.onnx')
    got = session.run(None, dict(value=value.numpy(), shapes=shapes.numpy(),
                                 offsets=offsets.numpy(), weights=weights.numpy(),
                                 reference=reference.numpy()))[0]
    expected = mmcv_pytorch_path(value.double(), shapes, offsets.double(), weights.double(),
                                 reference.double())
    assert got.shape == (B, Q, M * head_dims)
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-5)


def test_msda_node_names_a_wrong_shape(tmp_path):
    node = helper.make_node('MSDeformAttn', [n for n, _ in MSDA_INPUTS], ['out'],
                            domain='simdistill')
    session = session_of(node, MSDA_INPUTS, tmp_path / 'msda.onnx')
    feeds = dict(value=np.zeros((1, 12, 2, 4), np.float32), shapes=np.array([[3, 4]]),
                 offsets=np.zeros((1, 5, 2, 1, 3, 2), np.float32),
                 weights=np.zeros((1, 5, 2, 1, 4), np.float32),
                 reference=np.zeros((1, 5, 1, 2), np.float32))
    with pytest.raises(Exception, match=r'attention_weights must be \(1, 5, 2, 1, 3\), got '
                                        r'\(1, 5, 2, 1, 4\)'):
        session.run(None, feeds)
    feeds['weights'] = np.zeros((1, 5, 2, 1, 3), np.float32)
    feeds['shapes'] = np.array([[3, 5]])
    with pytest.raises(Exception, match='value has 12 keys, the spatial shapes sum to 15'):
        session.run(None, feeds)


def test_library_is_cached_and_a_failed_build_names_the_compiler(tmp_path, monkeypatch):
    first = library_path()
    assert first == library_path() and first.parent == build_directory() and first.is_file()
    monkeypatch.setenv('SIMDISTILL_OPS_CACHE', str(tmp_path))
    monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
    with pytest.raises(OnnxruntimeOpsBuildError, match='no-such-compiler'):
        library_path()
    assert not any(tmp_path.rglob('*.so'))  # nothing half written


@pytest.fixture(scope='module')
def student():
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(STUDENT)
    drop_image_pretrain(cfg.model)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model.eval()


def test_student_graph_with_custom_ops_matches_pytorch(student, tmp_path):
    """Traced at batch 1 with the custom nodes, run at batch 2 with two camera rigs."""
    cfg, model = student
    half = cfg.point_cloud_range[3]

    def batch(size, seed):
        data = model.data_preprocessor(
            random_batch(cfg, half, batch_size=size, with_points=False, seed=seed), False)
        metas = [s.metainfo for s in data['data_samples']]
        return (data, metas) + model.images_and_cameras(data['inputs'], metas)

    _, _, imgs, cameras = batch(1, 1)
    path = str(tmp_path / 'student_custom.onnx')
    export_onnx(model, imgs, cameras, path, custom_ops=True)
    proto = onnx.load(path)
    ops = {(n.domain, n.op_type) for n in proto.graph.node}
    assert {('simdistill', 'BEVPool'), ('simdistill', 'MSDeformAttn')} <= ops
    assert not {('', 'ScatterElements'), ('', 'GridSample')} & ops
    assert uses_custom_ops(path)

    data, metas, imgs, cameras = batch(2, 2)
    got = ONNXCameraDetector(path, model).run(imgs, cameras)
    with torch.no_grad():  # the model's own forward (plan kernel, GCM kernel)
        expected = flatten_head_outputs(model.bbox_head, model.bbox_head(
            model.extract_bev_features(data['inputs'], metas)['decoder']))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape[0] == 2
        assert_maps_close(g, e)
