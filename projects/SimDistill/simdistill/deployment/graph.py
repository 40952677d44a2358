"""The deployable camera-only detector as one traceable module, and its shared post-processing.

A deployed camera-only model (the SimDistill student or the camera baseline) is

    images (B, N, 3, H, W), BEV-pool plan  ->  [exported graph]  ->  raw CenterHead maps
    raw maps, camera metas                 ->  :func:`decode_head_outputs`  ->  3D boxes

The BEV pool's plan (which frustum point falls in which BEV cell) depends only on the cameras:
it is computed outside the graph from the calibration, once per vehicle (by the same
``LSSViewTransform.plan_for`` the PyTorch model uses), and passed in as three index inputs;
inside the graph the pool is a gather and a scatter-add (ONNX ``Gather`` and
``ScatterElements(reduction='add')``), so stock runtimes run it without a custom op. The
geometry compensation's deformable attention runs through mmcv's PyTorch path
(``grid_sample`` -> ONNX ``GridSample``). Box decoding and NMS stay in PyTorch, in
:func:`decode_head_outputs`, which the PyTorch model's ``predict`` path also goes through
(``CenterHead.predict_by_feat``).
"""
import math
from typing import Dict, List, Sequence, Tuple

import torch
from mmdet3d.models.dense_heads import CenterHead
from torch import Tensor, nn

from ..models.detectors import BEVFusionDetector
from ..models.detectors.finite_boxes import drop_non_finite_boxes
from ..ops.bev_pool import scatter_pool_indices
from ..ops.bev_pool.scatter import BEVPoolNode, context_rows
from ..ops.onnx_custom_ops import exporting_custom_ops

PLAN_INPUTS = ('ranks_depth', 'ranks_feat', 'ranks_bev')


def head_output_names(bbox_head: CenterHead) -> List[str]:
    """``task{t}.{map}`` for every task and map of a CenterHead, in graph output order."""
    return [
        f'task{t}.{name}' for t, task_head in enumerate(bbox_head.task_heads)
        for name in task_head.heads
    ]


def flatten_head_outputs(bbox_head: CenterHead, preds: Tuple[List[dict]]) -> List[Tensor]:
    """CenterHead's ``forward`` output (``[task][level=0][map]``) as one flat list, in the
    order of :func:`head_output_names`."""
    return [
        preds[t][0][name] for t, task_head in enumerate(bbox_head.task_heads)
        for name in task_head.heads
    ]


def decode_head_outputs(bbox_head: CenterHead, outputs: Sequence[Tensor],
                        batch_input_metas: List[dict]) -> list:
    """Boxes from the raw head maps: CenterHead's decoding and NMS (``predict_by_feat``).

    Args:
        bbox_head: the model's head (only its coder and ``test_cfg`` are used).
        outputs: the maps in :func:`head_output_names` order, each ``(B, C, H, W)`` (torch
            tensors or numpy arrays, e.g. from onnxruntime).
        batch_input_metas: one metainfo dict per sample (``box_type_3d``).

    Returns:
        list[InstanceData]: per sample ``bboxes_3d``, ``scores_3d``, ``labels_3d``; boxes with
        non-finite values dropped, as in the PyTorch model's ``predict``.
    """
    names = head_output_names(bbox_head)
    if len(outputs) != len(names):
        raise ValueError(f'expected {len(names)} head maps ({", ".join(names)}), got '
                         f'{len(outputs)}')
    maps = iter(torch.as_tensor(out) for out in outputs)
    preds = tuple([{name: next(maps) for name in task_head.heads}]
                  for task_head in bbox_head.task_heads)
    return drop_non_finite_boxes(bbox_head.predict_by_feat(preds, batch_input_metas))


def check_deployable(model: nn.Module) -> None:
    """Raises ValueError unless ``model`` is a camera-only BEVFusion / SimDistill student with a
    CenterHead whose view transforms share one frustum and one BEV grid (one plan)."""
    if not isinstance(model, BEVFusionDetector) or model.with_lidar or not model.with_camera:
        raise ValueError(f'only a camera-only model (SimDistillStudent, camera-only BEVFusion) '
                         f'can be exported, got {type(model).__name__}'
                         + (' with a LiDAR branch' if getattr(model, 'with_lidar', False) else ''))
    if not isinstance(model.bbox_head, CenterHead):
        raise ValueError(f'export supports a CenterHead, got {type(model.bbox_head).__name__}')
    first, *others = model.view_transforms
    for other in others:
        if other.grid != first.grid or not torch.equal(other.frustum, first.frustum):
            raise ValueError('the view transforms of this model have different frustums or BEV '
                             'grids; the exported graph takes one BEV-pool plan')


class DeployableCameraDetector(nn.Module):
    """Images + BEV-pool plan -> the raw CenterHead maps of a camera-only model.

    Args:
        model: a camera-only ``BEVFusionDetector`` or ``SimDistillStudent`` with a CenterHead, in
            ``eval()`` mode (see :func:`check_deployable`).
        custom_ops: pool with the ``simdistill::BEVPool`` node when exported inside
            :func:`~simdistill.ops.onnx_custom_ops.export_custom_ops` (else, and in eager
            PyTorch, the stock gather + scatter-add form).

    ``forward(imgs, ranks_depth, ranks_feat, ranks_bev)``:

    - ``imgs`` ``(B, N, 3, H, W)`` float32: the images after the model's data preprocessor
      (RGB, normalised by its mean and std);
    - ``ranks_*`` ``(P,)`` int64: the plan of the batch's cameras, ``plan_for(cameras)`` of the
      model's view transform (its ``ranks_depth``, ``ranks_feat``, ``ranks_bev``);

    returns the head maps in :func:`head_output_names` order, each ``(B, C, H', W')``.
    """

    def __init__(self, model: BEVFusionDetector, custom_ops: bool = False) -> None:
        super().__init__()
        check_deployable(model)
        self.model = model
        self.bev_shape = model.view_transform.grid.shape
        self.custom_ops = custom_ops

    def forward(self, imgs: Tensor, ranks_depth: Tensor, ranks_feat: Tensor,
                ranks_bev: Tensor) -> Tuple[Tensor, ...]:

        def pool(depth: Tensor, context: Tensor) -> Tensor:
            if self.custom_ops and exporting_custom_ops():
                cells = BEVPoolNode.apply(depth, context_rows(context), ranks_depth, ranks_feat,
                                          ranks_bev, math.prod(self.bev_shape))
                return cells.reshape(depth.shape[0], -1, *self.bev_shape)
            return scatter_pool_indices(depth, context, ranks_depth, ranks_feat, ranks_bev,
                                        self.bev_shape)

        model = self.model
        stages = model.camera_only_stages(
            model.extract_img_feat(imgs), lambda transform, feats: transform.lift(feats, pool))
        return tuple(flatten_head_outputs(model.bbox_head, model.bbox_head(stages['decoder'])))


def plan_inputs(model: BEVFusionDetector, cameras: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """The graph's plan inputs for a batch's stacked camera matrices (int64)."""
    plan = model.view_transform.plan_for(cameras)
    return {name: getattr(plan, name).long() for name in PLAN_INPUTS}
