"""Tests of the TransFusion-style head (simdistill.models.dense_heads), CPU, small sizes.

The grid is deliberately not square (nx=32 columns of x, ny=24 rows of y, 1 m cells) so that a
swap of rows and columns cannot pass.
"""
import math

import numpy as np
import pytest
import torch
from mmdet3d.evaluation.metrics.nuscenes_metric import output_to_nusc_box
from mmdet3d.registry import MODELS, TASK_UTILS
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.structures import InstanceData
from torch import nn

from simdistill.models.dense_heads import (TransFusionBoxCoder, BEVTransFusionHead,
                                           gaussian_heatmap_targets, topk_peaks)
from simdistill.models.dense_heads.bbox_coder import CODE_FIELDS
from simdistill.structures import HeadGrid

NUM_CLASSES = 3
IN_CHANNELS = 16
NUM_PROPOSALS = 20
GRID = dict(
    grid_size=[256, 192, 40],
    voxel_size=[0.125, 0.125, 0.2],
    out_size_factor=8,
    point_cloud_range=[-16.0, -12.0, -5.0, 16.0, 12.0, 3.0])
NX, NY = 32, 24
DECODER = dict(
    self_attn_cfg=dict(num_heads=4),
    cross_attn_cfg=dict(num_heads=4),
    ffn_cfg=dict(feedforward_channels=64, ffn_drop=0.0))
# (x, y, z_bottom, dx, dy, dz, yaw, vx, vy) in metres, radians, m/s; one box per class
GT_BOXES = [[5.3, 4.6, -1.2, 4.2, 1.9, 1.6, 0.4, 2.0, -1.0],
            [-9.7, -6.2, -0.8, 0.8, 0.7, 1.8, -1.2, 0.5, 0.3],
            [10.4, -7.7, -1.0, 2.0, 0.9, 1.1, 2.5, 0.0, 0.0]]
GT_LABELS = [0, 1, 2]


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # Tiny ops on a busy 2-core machine run many times faster on one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_head(**kwargs) -> BEVTransFusionHead:
    cfg = dict(
        in_channels=IN_CHANNELS,
        num_classes=NUM_CLASSES,
        hidden_channels=32,
        num_proposals=NUM_PROPOSALS,
        decoder_layer=DECODER,
        train_cfg=dict(GRID, code_weights=[1.0] * 8 + [0.2, 0.2]),
        test_cfg=dict(GRID))
    cfg.update(kwargs)
    head = BEVTransFusionHead(**cfg)
    head.init_weights()
    return head


def make_sample(boxes=GT_BOXES, labels=GT_LABELS) -> Det3DDataSample:
    sample = Det3DDataSample()
    sample.gt_instances_3d = InstanceData(
        bboxes_3d=LiDARInstance3DBoxes(torch.tensor(boxes).reshape(-1, 9), box_dim=9),
        labels_3d=torch.tensor(labels, dtype=torch.long))
    sample.set_metainfo(dict(box_type_3d=LiDARInstance3DBoxes))
    return sample


class FixedLogits(nn.Module):
    """Stands in for the heatmap branch: returns given logits ``(K, H, W)`` for every sample."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer('logits', logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1, -1, -1)


# --------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------
def test_forward_shapes():
    head = make_head()
    outs = head([torch.randn(2, IN_CHANNELS, NY, NX)])
    assert len(outs) == 1 and len(outs[0]) == 1
    preds = outs[0][0]
    expected = dict(
        heatmap=(2, NUM_CLASSES, NY, NX),
        query_index=(2, NUM_PROPOSALS),
        query_labels=(2, NUM_PROPOSALS),
        query_pos=(2, NUM_PROPOSALS, 2),
        query_heatmap_score=(2, NUM_PROPOSALS, NUM_CLASSES),
        center=(2, NUM_PROPOSALS, 2),
        height=(2, NUM_PROPOSALS, 1),
        dim=(2, NUM_PROPOSALS, 3),
        rot=(2, NUM_PROPOSALS, 2),
        vel=(2, NUM_PROPOSALS, 2),
        cls_logits=(2, NUM_PROPOSALS, NUM_CLASSES))
    assert {k: tuple(v.shape) for k, v in preds.items()} == expected
    assert preds['query_index'].dtype == preds['query_labels'].dtype == torch.long


def known_peak_logits() -> torch.Tensor:
    """Logits -10 everywhere but three peaks and one neighbour that NMS must suppress."""
    logits = torch.full((NUM_CLASSES, NY, NX), -10.0)
    logits[0, 3, 5] = 5.0  # class 0 at x=5, y=3
    logits[0, 3, 6] = 4.0  # its neighbour, not a local maximum
    logits[2, 15, 20] = 3.0  # class 2 at x=20, y=15
    logits[1, 23, 31] = 2.0  # class 1 in the corner x=31, y=23
    return logits


def test_queries_are_heatmap_peaks():
    head = make_head(exclude_border_peaks=False)
    logits = known_peak_logits()
    head.heatmap_head = FixedLogits(logits)
    preds = head([torch.randn(2, IN_CHANNELS, NY, NX)])[0][0]
    for b in range(2):
        assert preds['query_labels'][b, :3].tolist() == [0, 2, 1]
        assert preds['query_index'][b, :3].tolist() == [3 * NX + 5, 15 * NX + 20, 23 * NX + 31]
        assert preds['query_pos'][b, :3].tolist() == [[5.5, 3.5], [20.5, 15.5], [31.5, 23.5]]
        # the suppressed neighbour is no query of class 0 (flat cells, all local maxima of
        # their plateau, fill the remaining proposals)
        pairs = set(zip(preds['query_index'][b].tolist(), preds['query_labels'][b].tolist()))
        assert (3 * NX + 6, 0) not in pairs
        assert len(pairs) == NUM_PROPOSALS
        expected_score = logits.sigmoid()[:, 3, 5]
        assert torch.allclose(preds['query_heatmap_score'][b, 0], expected_score)


def test_border_peaks_are_excluded_by_default():
    # upstream's unpadded 3x3 max-pool never proposes a class with a 3x3 window on the
    # outer ring: the corner peak of class 1 is no query, the inner ones still are
    head = make_head()
    head.heatmap_head = FixedLogits(known_peak_logits())
    preds = head([torch.randn(1, IN_CHANNELS, NY, NX)])[0][0]
    pairs = set(zip(preds['query_index'][0].tolist(), preds['query_labels'][0].tolist()))
    assert (23 * NX + 31, 1) not in pairs
    assert {(3 * NX + 5, 0), (15 * NX + 20, 2)} <= pairs
    border = [(i, k) for i, k in pairs if i // NX in (0, NY - 1) or i % NX in (0, NX - 1)]
    assert border == []


def test_per_class_nms_kernel():
    logits = known_peak_logits()[None]
    index, labels, scores = topk_peaks(logits.sigmoid(), 4, [1, 3, 3])
    # kernel 1 for class 0 keeps the neighbour, second in score order
    assert index[0].tolist() == [3 * NX + 5, 3 * NX + 6, 15 * NX + 20, 23 * NX + 31]
    assert labels[0].tolist() == [0, 0, 2, 1]
    assert torch.all(scores[0, :-1] >= scores[0, 1:])


def test_heatmap_targets_rows_are_y():
    grid = HeadGrid.from_cfg(GRID)
    boxes = LiDARInstance3DBoxes(torch.tensor(GT_BOXES), box_dim=9)
    gravity = torch.cat([boxes.gravity_center, boxes.tensor[:, 3:]], dim=1)
    heatmap = gaussian_heatmap_targets(gravity, torch.tensor(GT_LABELS), grid, NUM_CLASSES)
    assert heatmap.shape == (NUM_CLASSES, NY, NX)
    for (x, y, *_), label in zip(GT_BOXES, GT_LABELS):
        col, row = math.floor(x + 16.0), math.floor(y + 12.0)
        assert heatmap[label, row, col] == 1.0
        assert int(heatmap[label].eq(1).sum()) == 1
    assert heatmap.min() >= 0 and heatmap.max() <= 1


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def test_loss_is_finite_and_reaches_every_parameter():
    head = make_head()
    empty = make_sample(boxes=[], labels=[])
    losses = head.loss([torch.randn(2, IN_CHANNELS, NY, NX)], [make_sample(), empty])
    assert set(losses) == {'loss_heatmap', 'loss_cls', 'loss_bbox'}
    for name, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), name
        assert value > 0, name
    sum(losses.values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, f'{name} gets no gradient'
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, f'{name} gets a zero gradient'


def test_box_coder_round_trip_float64():
    coder = TransFusionBoxCoder(
        point_cloud_range=GRID['point_cloud_range'],
        voxel_size=GRID['voxel_size'],
        out_size_factor=GRID['out_size_factor'])
    generator = torch.Generator().manual_seed(0)
    n = 200
    rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64)  # noqa
    boxes = torch.cat([
        rand(n, 2) * torch.tensor([32.0, 24.0], dtype=torch.float64) -
        torch.tensor([16.0, 12.0], dtype=torch.float64),
        rand(n, 1) * 4 - 3,
        rand(n, 3) * 10 + 0.05,
        (rand(n, 1) * 2 - 1) * (math.pi - 1e-6),
        rand(n, 2) * 20 - 10,
    ],
                      dim=1)
    query_pos = rand(n, 2) * torch.tensor([NX, NY], dtype=torch.float64)
    codes = coder.encode(boxes, query_pos)
    assert codes.shape == (n, 10) and codes.dtype == torch.float64
    assert torch.allclose(coder.decode(codes, query_pos), boxes, rtol=0, atol=1e-10)
    # hand-checked code: centre (2.5, -3.0) m is cell coordinate (18.5, 9.0)
    box = torch.tensor([[2.5, -3.0, 0.5, 4.0, 2.0, 1.0, math.pi / 2, 1.0, -2.0]],
                       dtype=torch.float64)
    code = coder.encode(box, torch.tensor([[18.5, 9.5]], dtype=torch.float64))
    expected = [0.0, -0.5, 0.5, math.log(4.0), math.log(2.0), 0.0, 1.0, 0.0, 1.0, -2.0]
    assert torch.allclose(code[0], torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def perfect_predictions(head: BEVTransFusionHead, boxes: torch.Tensor, labels: torch.Tensor,
                        assignment: list) -> dict:
    """Head outputs for one sample where query ``assignment[i]`` predicts gt box ``i`` exactly
    and confidently; a same-class distractor sits 0.4 cells off each box, and every other
    query predicts a small box elsewhere with low confidence."""
    num = NUM_PROPOSALS
    gravity = torch.cat([boxes.gravity_center, boxes.tensor[:, 3:]], dim=1)
    query_pos = torch.stack([torch.arange(num) % NX + 0.5,
                             torch.arange(num) // NX + NY / 2 + 0.5],
                            dim=1).float()
    grid = head.grid
    codes = head.bbox_coder.encode(
        torch.tensor([[grid.x_min + 1.0, grid.y_min + 1.0, 0.0, 0.5, 0.5, 0.5, 0.0, 0.0,
                       0.0]]).expand(num, -1), query_pos)
    logits = torch.full((num, NUM_CLASSES), -4.0)
    for i, query in enumerate(assignment):
        codes[query] = head.bbox_coder.encode(gravity[i], query_pos[query])
        logits[query, labels[i]] = 4.0
        distractor = (query + 1) % num
        assert distractor not in assignment
        codes[distractor] = codes[query]
        codes[distractor, 0] += 0.4
        query_pos[distractor] = query_pos[query]
        logits[distractor, labels[i]] = 4.0
    preds = {}
    start = 0
    for name, width in CODE_FIELDS:
        preds[name] = codes[None, :, start:start + width].clone()
        start += width
    preds.update(
        cls_logits=logits[None],
        query_pos=query_pos[None],
        heatmap=torch.zeros(1, NUM_CLASSES, NY, NX))
    return preds


def test_hungarian_matching_recovers_permutation_and_zero_l1():
    head = make_head()
    sample = make_sample()
    gt = sample.gt_instances_3d
    assignment = [13, 2, 7]  # gt i -> query assignment[i]
    preds = perfect_predictions(head, gt.bboxes_3d, gt.labels_3d, assignment)
    _, labels, bbox_targets, bbox_weights, num_pos = head.get_targets_single(preds, 0, gt)
    assert num_pos == 3
    expected_labels = torch.full((NUM_PROPOSALS, ), NUM_CLASSES)
    expected_labels[assignment] = gt.labels_3d
    assert labels.tolist() == expected_labels.tolist()
    codes = head.bbox_coder.join({k: preds[k][0] for k, _ in CODE_FIELDS})
    assert torch.allclose(bbox_targets[assignment], codes[assignment], atol=1e-5)
    code_weights = torch.tensor([1.0] * 8 + [0.2, 0.2])
    assert torch.equal(bbox_weights[assignment], code_weights.expand(3, -1))
    assert float(bbox_weights.sum()) == pytest.approx(3 * 8.4)

    losses = head.loss_by_feat(([preds], ), [gt])
    assert losses['loss_bbox'] < 1e-5
    # a shifted prediction gives a clearly positive box loss: the loss is not always 0
    preds['center'][0, assignment[0], 0] += 1.0
    assert head.loss_by_feat(([preds], ), [gt])['loss_bbox'] > 0.01


def feature_map_with_objects() -> torch.Tensor:
    """A fixed random BEV map with each object's class channel raised around its cell."""
    generator = torch.Generator().manual_seed(0)
    feat = torch.randn(1, IN_CHANNELS, NY, NX, generator=generator)
    for (x, y, *_), label in zip(GT_BOXES, GT_LABELS):
        col, row = math.floor(x + 16.0), math.floor(y + 12.0)
        feat[0, label, max(row - 1, 0):row + 2, max(col - 1, 0):col + 2] += 3.0
    return feat


def test_overfits_one_sample():
    torch.manual_seed(0)
    head = make_head()
    feat, sample = feature_map_with_objects(), make_sample()
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    history = []
    for _ in range(60):
        losses = head.loss([feat], [sample])
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.1 * history[0], history

    head.eval()
    with torch.no_grad():
        result = head.predict([feat], [sample])[0]
    # the best len(GT_BOXES) detections, read as mmdet3d's NuScenesMetric reads them
    top = result[:len(GT_BOXES)]
    nus_boxes, _ = output_to_nusc_box(top.to_dict())
    gt_boxes = LiDARInstance3DBoxes(torch.tensor(GT_BOXES), box_dim=9)
    for i, label in enumerate(GT_LABELS):
        gt_center = gt_boxes.gravity_center[i].numpy()
        distance = [np.linalg.norm(box.center[:2] - gt_center[:2]) for box in nus_boxes]
        best = int(np.argmin(distance))
        assert distance[best] < 1.0, f'box {i}: centre off by {distance[best]:.2f} cells'
        box = nus_boxes[best]
        assert box.label == label and box.score > 0.3
        assert abs(box.center[2] - gt_center[2]) < 0.2  # gravity centre, not bottom
        size_error = np.abs(box.wlh / gt_boxes.dims[i, [1, 0, 2]].numpy() - 1).max()
        assert size_error < 0.25, f'box {i}: size off by {size_error:.0%}'
        assert np.abs(box.velocity[:2] - np.array(GT_BOXES[i][7:9])).max() < 0.3


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------
def test_predict_format():
    torch.manual_seed(0)
    low, high = torch.tensor([-10.0, -8.0, -10.0]), torch.tensor([10.0, 8.0, 10.0])
    head = make_head(test_cfg=dict(GRID, post_center_limit_range=low.tolist() + high.tolist()))
    head.eval()
    feats = [torch.randn(2, IN_CHANNELS, NY, NX)]
    samples = [make_sample(), make_sample()]
    with torch.no_grad():
        preds = head(feats)[0][0]
        results = head.predict(feats, samples)
    decoded = head.bbox_coder.decode(head.bbox_coder.join(preds), preds['query_pos'])
    inside = ((decoded[..., :3] >= low) & (decoded[..., :3] <= high)).all(-1)
    assert len(results) == 2
    for b, result in enumerate(results):
        boxes = result.bboxes_3d
        assert isinstance(boxes, LiDARInstance3DBoxes) and boxes.box_dim == 9
        assert boxes.tensor.shape == (len(result.scores_3d), 9)
        assert len(result.labels_3d) == len(result.scores_3d) == int(inside[b].sum())
        assert 0 < len(result.scores_3d) < NUM_PROPOSALS  # the range filter dropped some
        assert ((result.scores_3d >= 0) & (result.scores_3d <= 1)).all()
        assert (result.scores_3d[:-1] >= result.scores_3d[1:]).all()
        assert ((result.labels_3d >= 0) & (result.labels_3d < NUM_CLASSES)).all()
        centers = boxes.gravity_center
        assert ((centers >= low) & (centers <= high)).all()
        # the boxes store the bottom centre: their gravity centres are decoded query boxes
        gap = torch.cdist(centers, decoded[b, :, :3]).min(dim=1).values
        assert gap.max() < 1e-5


def test_score_threshold_and_max_per_img():
    """A threshold between two scores of the unfiltered output keeps exactly the detections
    above it (some kept, some dropped), and ``max_per_img`` the best of those."""
    torch.manual_seed(3)
    head = make_head()
    head.eval()
    feats, samples = [torch.randn(2, IN_CHANNELS, NY, NX)], [make_sample(), make_sample()]

    def predict(**test_cfg):
        head.test_cfg = dict(GRID, **test_cfg)
        with torch.no_grad():
            return head.predict(feats, samples)

    unfiltered = predict(score_threshold=0.0, max_per_img=NUM_PROPOSALS)
    for sample in unfiltered:
        assert len(sample.scores_3d) == NUM_PROPOSALS
    # halfway between the middle two scores of both samples: half of all detections pass
    pooled = torch.cat([sample.scores_3d for sample in unfiltered]).sort(descending=True).values
    middle = len(pooled) // 2
    assert pooled[middle - 1] > pooled[middle]
    threshold = float(pooled[middle - 1] + pooled[middle]) / 2
    for max_per_img in (NUM_PROPOSALS, 3):
        results = predict(score_threshold=threshold, max_per_img=max_per_img)
        counts = []
        for full, result in zip(unfiltered, results):  # each sorted best first
            count = min(int((full.scores_3d >= threshold).sum()), max_per_img)
            assert len(result.scores_3d) == count
            assert torch.equal(result.scores_3d, full.scores_3d[:count])
            assert torch.equal(result.bboxes_3d.tensor, full.bboxes_3d.tensor[:count])
            assert torch.equal(result.labels_3d, full.labels_3d[:count])
            counts.append(count)
        if max_per_img == NUM_PROPOSALS:
            assert sum(counts) == middle  # kept some, dropped as many
        else:
            assert max(counts) == 3  # a sample with 10 or more above the threshold is cut


# --------------------------------------------------------------------------------------------
# configuration and bad input
# --------------------------------------------------------------------------------------------
def test_registered_and_builds_nuscenes_config():
    voxel_size = [0.075, 0.075, 0.2]
    grid = dict(
        grid_size=[1440, 1440, 41],
        voxel_size=voxel_size,
        out_size_factor=8,
        point_cloud_range=[-54.0, -54.0, -5.0, 54.0, 54.0, 3.0])
    head = MODELS.build(
        dict(
            type='BEVTransFusionHead',
            in_channels=512,
            num_classes=10,
            hidden_channels=128,
            num_proposals=200,
            nms_kernel_size=[3] * 8 + [1, 1],
            train_cfg=dict(
                **grid,
                code_weights=[1.0] * 8 + [0.2, 0.2],
                assigner=dict(
                    type='mmdet.HungarianAssigner',
                    match_costs=[
                        dict(type='mmdet.FocalLossCost', gamma=2.0, alpha=0.25, weight=0.15),
                        dict(type='BEVCenterL1Cost', weight=0.25),
                        dict(type='BoxIoU3DCost', iou_type='3d', weight=0.25)
                    ])),
            test_cfg=dict(**grid, post_center_limit_range=[-61.2, -61.2, -10, 61.2, 61.2, 10])))
    assert isinstance(head, BEVTransFusionHead)
    assert head.grid.shape == (180, 180) and head.grid.cell_x == pytest.approx(0.6)
    assert [type(c).__name__ for c in head.assigner.match_costs
            ] == ['FocalLossCost', 'BEVCenterL1Cost', 'BoxIoU3DCost']
    for name in ('TransFusionBoxCoder', 'BEVCenterL1Cost', 'BoxIoU3DCost'):
        assert TASK_UTILS.get(name) is not None


def test_wrong_channels_names_shapes():
    head = make_head()
    with pytest.raises(ValueError, match=r'\(2, 8, 24, 32\).*in_channels=16'):
        head([torch.randn(2, 8, NY, NX)])


def test_wrong_map_size_names_shapes():
    head = make_head()
    with pytest.raises(ValueError, match=r'\(2, 16, 32, 24\).*32x24.*is 24x32'):
        head([torch.randn(2, IN_CHANNELS, NX, NY)])


def test_more_than_one_map_is_refused():
    head = make_head()
    with pytest.raises(ValueError, match='one BEV map, got 2'):
        head([torch.randn(1, IN_CHANNELS, NY, NX)] * 2)


def test_train_and_test_grids_must_agree():
    with pytest.raises(ValueError, match='different BEV grids'):
        make_head(test_cfg=dict(GRID, out_size_factor=4))
    with pytest.raises(ValueError, match='grid_size'):
        HeadGrid.from_cfg(dict(GRID, grid_size=[200, 192, 40]))


def test_centerhead_style_partial_test_cfg():
    partial = dict(
        voxel_size=[0.125, 0.125],
        out_size_factor=8,
        pc_range=[-16.0, -12.0],
        nms_type='rotate',
        score_threshold=0.1)
    assert make_head(test_cfg=partial).grid == HeadGrid.from_cfg(GRID)
    with pytest.raises(ValueError, match='test_cfg.*range starts at'):
        make_head(test_cfg=dict(partial, pc_range=[-16.0, -16.0]))
    with pytest.raises(ValueError, match='test_cfg.*cells'):
        make_head(test_cfg=dict(partial, out_size_factor=4))
