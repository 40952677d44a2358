"""3D match costs for mmdet's ``HungarianAssigner``.

They follow mmdet's match-cost interface: called with ``pred_instances`` and ``gt_instances``
(:class:`InstanceData`) and ``img_meta``, they return a ``(num_preds, num_gts)`` cost. Boxes
are read from the field ``bboxes_3d``: a :class:`BaseInstance3DBoxes` (e.g.
``LiDARInstance3DBoxes``, whose tensor holds the bottom centre). The classification cost is
mmdet's ``FocalLossCost`` on ``pred_instances.scores`` (logits) as is.
"""
from typing import Optional, Sequence, Union

import torch
from mmcv.ops import box_iou_rotated
from mmdet.models.task_modules.assigners.match_cost import BaseMatchCost
from mmdet3d.registry import TASK_UTILS
from mmdet3d.structures import BaseInstance3DBoxes
from mmengine.structures import InstanceData
from torch import Tensor


def _boxes(instances: InstanceData, role: str) -> BaseInstance3DBoxes:
    boxes = instances.bboxes_3d
    if not isinstance(boxes, BaseInstance3DBoxes):
        raise TypeError(f'{role}.bboxes_3d must be a BaseInstance3DBoxes (the z convention of '
                        f'a bare tensor is ambiguous), got {type(boxes).__name__}')
    return boxes


@TASK_UTILS.register_module()
class BEVCenterL1Cost(BaseMatchCost):
    """L1 distance of BEV centres, each axis normalised by the BEV range's extent.

    Args:
        bev_range (Sequence[float], optional): ``(x_min, y_min, x_max, y_max)`` in metres. If
            None, it is read from ``img_meta['bev_range']`` or, failing that, from the 6-value
            ``img_meta['point_cloud_range']``.
        weight (float): cost weight. Defaults to 1.
    """

    def __init__(self,
                 bev_range: Optional[Sequence[float]] = None,
                 weight: Union[float, int] = 1.) -> None:
        super().__init__(weight=weight)
        self.bev_range = None if bev_range is None else tuple(float(v) for v in bev_range)

    def _range(self, img_meta: Optional[dict]) -> Sequence[float]:
        if self.bev_range is not None:
            return self.bev_range
        img_meta = img_meta or {}
        if 'bev_range' in img_meta:
            return img_meta['bev_range']
        if 'point_cloud_range' in img_meta:
            pcr = img_meta['point_cloud_range']
            return pcr[0], pcr[1], pcr[3], pcr[4]
        raise KeyError('BEVCenterL1Cost needs bev_range, given to it or in img_meta '
                       "('bev_range' or 'point_cloud_range')")

    def __call__(self,
                 pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None,
                 **kwargs) -> Tensor:
        """Returns the ``(num_preds, num_gts)`` weighted cost (unitless)."""
        pred = _boxes(pred_instances, 'pred_instances').tensor[:, :2]
        gt = _boxes(gt_instances, 'gt_instances').tensor[:, :2].to(pred)
        x_min, y_min, x_max, y_max = self._range(img_meta)
        origin = pred.new_tensor([x_min, y_min])
        extent = pred.new_tensor([x_max - x_min, y_max - y_min])
        return torch.cdist((pred - origin) / extent, (gt - origin) / extent, p=1) * self.weight


@TASK_UTILS.register_module()
class BoxIoU3DCost(BaseMatchCost):
    """Negative IoU of rotated 3D boxes (or of their BEV footprints).

    The 3D IoU is mmdet3d's ``BaseInstance3DBoxes.overlaps`` and the BEV IoU is mmcv's
    ``box_iou_rotated`` on ``.bev``; both run on CPU and GPU. Pairs whose IoU is not finite
    (degenerate predicted boxes) cost 0, as non-overlapping ones do.

    Args:
        iou_type (str): ``'3d'`` or ``'bev'``. Defaults to ``'3d'``.
        weight (float): cost weight. Defaults to 1.
    """

    def __init__(self, iou_type: str = '3d', weight: Union[float, int] = 1.) -> None:
        super().__init__(weight=weight)
        if iou_type not in ('3d', 'bev'):
            raise ValueError(f"iou_type must be '3d' or 'bev', got {iou_type!r}")
        self.iou_type = iou_type

    def __call__(self,
                 pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None,
                 **kwargs) -> Tensor:
        """Returns the ``(num_preds, num_gts)`` weighted cost, in ``[-weight, 0]``."""
        pred = _boxes(pred_instances, 'pred_instances')
        gt = _boxes(gt_instances, 'gt_instances')
        if self.iou_type == '3d':
            iou = type(pred).overlaps(pred, gt.to(pred.device), mode='iou')
        else:
            iou = box_iou_rotated(pred.bev, gt.bev.to(pred.device))
        return -torch.nan_to_num(iou, nan=0., posinf=0., neginf=0.) * self.weight
