"""Predictions with non-finite boxes are dropped before they reach an evaluator.

A head that has not converged can decode a box size as ``exp`` of a large logit (inf), and the
gravity centre ``z + h / 2`` then becomes NaN; the nuScenes devkit asserts on NaN and a whole
evaluation (after hours of training) dies. Dropping such boxes, and saying how many, keeps the
metrics honest: they could never match a ground-truth box.
"""
from typing import List

import torch
from mmengine.logging import print_log


def drop_non_finite_boxes(results: List) -> List:
    """Removes, per sample, the predictions whose box or score holds inf or NaN.

    Args:
        results: ``InstanceData`` per sample with ``bboxes_3d`` (mmdet3d boxes),
            ``scores_3d`` and ``labels_3d``.

    Returns:
        the same list, filtered in place where needed.
    """
    for i, instances in enumerate(results):
        if 'bboxes_3d' not in instances or len(instances) == 0:
            continue
        box = instances.bboxes_3d
        finite = torch.isfinite(box.tensor).all(dim=1) & torch.isfinite(
            box.gravity_center).all(dim=1) & torch.isfinite(instances.scores_3d)
        if not bool(finite.all()):
            print_log(f'dropped {int((~finite).sum())} of {len(finite)} predicted boxes with '
                      'non-finite values (an unconverged head: exp() of a large size logit)',
                      logger='current', level=30)
            results[i] = instances[finite]
    return results
