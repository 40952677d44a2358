"""Predictions with non-finite values never reach the devkit (it asserts on NaN centres)."""
import math

import torch
from mmengine.structures import InstanceData

from mmdet3d.structures import LiDARInstance3DBoxes
from simdistill.models.detectors.finite_boxes import drop_non_finite_boxes


def test_boxes_with_inf_size_or_nan_score_are_dropped():
    boxes = torch.tensor([[1.0, 2.0, -1.0, 4.0, 2.0, 1.5, 0.3, 0.0, 0.0],
                          [5.0, 2.0, -1.0, 4.0, 2.0, math.inf, 0.3, 0.0, 0.0],  # z + h/2 = NaN?
                          [7.0, 2.0, -1.0, 4.0, 2.0, 1.5, 0.3, 0.0, 0.0],
                          [9.0, 2.0, -1.0, 4.0, 2.0, 1.5, 0.3, 0.0, 0.0]])
    boxes[1, 2] = -math.inf  # as CenterHead decodes it: z = height - dz / 2 with dz = inf
    scores = torch.tensor([0.9, 0.8, math.nan, 0.5])
    sample = InstanceData(bboxes_3d=LiDARInstance3DBoxes(boxes, box_dim=9), scores_3d=scores,
                          labels_3d=torch.tensor([0, 1, 2, 3]))
    assert torch.isnan(sample.bboxes_3d.gravity_center[1, 2])  # what the devkit rejects
    empty = InstanceData(bboxes_3d=LiDARInstance3DBoxes(torch.zeros(0, 9), box_dim=9),
                         scores_3d=torch.zeros(0), labels_3d=torch.zeros(0, dtype=torch.long))
    out = drop_non_finite_boxes([sample, empty])
    assert out[0].labels_3d.tolist() == [0, 3]
    assert torch.equal(out[0].bboxes_3d.tensor, boxes[[0, 3]])
    assert len(out[1]) == 0
