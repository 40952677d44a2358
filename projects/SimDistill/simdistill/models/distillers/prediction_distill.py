"""The head's predictions distilled from teacher to student (SimDistill's prediction term).

The student's head is a CenterHead (per-task dense heatmaps and box regressions). The losses
here compare the student's outputs with the teacher's once they are in that per-task form;
bringing them there is the job of the teacher head's adapter (:mod:`.prediction_adapters`).
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...errors import ConfigMismatchError

PredsDicts = Sequence[List[Dict[str, Tensor]]]
# The order CenterHead concatenates its regression heads in (mmdet3d's loss_by_feat).
BOX_KEYS = ('reg', 'height', 'dim', 'rot', 'vel')
HEATMAP_AVERAGES = ('cells', 'teacher_positive')


def heatmap_distill_loss(student_preds: PredsDicts, teacher_heatmaps: Sequence[Tensor],
                         loss_fn: nn.Module, average: str = 'cells') -> Tensor:
    """Quality focal loss between the student's heatmap logits and the teacher's probabilities.

    Every cell of every task is one QFL sample (its classes summed, mmdet's tensor-target QFL);
    the tasks' losses are summed.

    Args:
        average: ``'cells'``: the sum over cells divided by the number of cells (the release);
            ``'teacher_positive'``: divided by the number of cells where the teacher's
            probability of some class of the task is >= 0.5 (at least 1), as CenterHead divides
            its focal loss by the number of objects, so that the term does not shrink with the
            share of empty road in the map.
    """
    if average not in HEATMAP_AVERAGES:
        raise ValueError(f'average must be one of {HEATMAP_AVERAGES}, got {average!r}')
    total = 0.
    for task, target in zip(student_preds, teacher_heatmaps):
        logits = task[0]['heatmap']
        if logits.shape != target.shape:
            raise ValueError(f'student heatmap {tuple(logits.shape)} and teacher heatmap '
                             f'{tuple(target.shape)} differ: are both heads on one grid?')
        cells = target.permute(0, 2, 3, 1).flatten(0, 2)
        avg_factor = (None if average == 'cells' else
                      (cells.max(dim=1).values >= 0.5).sum().clamp(min=1).float())
        total = total + loss_fn(logits.permute(0, 2, 3, 1).flatten(0, 2), cells,
                                avg_factor=avg_factor)
    return total


def box_regressions(task_pred: Dict[str, Tensor]) -> Tensor:
    """``(B, C_box, H, W)``: the task's regression maps concatenated as CenterHead does."""
    return torch.cat([task_pred[k] for k in BOX_KEYS if k in task_pred], dim=1)


def gather_at_centres(maps: Tensor, inds: Tensor, mask: Tensor) -> Tensor:
    """Values of ``maps`` ``(B, C, H, W)`` at the real ground-truth centre cells.

    Args:
        inds: ``(B, M)`` flattened cell ``y * W + x`` of each ground-truth slot.
        mask: ``(B, M)``, nonzero for real boxes (CenterHead pads every sample to ``M``).

    Returns:
        Tensor: ``(num_real_boxes, C)``.
    """
    B, C = maps.shape[:2]
    flat = maps.flatten(2).transpose(1, 2)  # (B, H * W, C)
    picked = flat.gather(1, inds.long()[..., None].expand(-1, -1, C))
    return picked[mask.bool()]


def regression_distill_loss(student_preds: PredsDicts, teacher_preds: PredsDicts,
                            inds: Sequence[Tensor], masks: Sequence[Tensor],
                            loss_fn: nn.Module) -> Tensor:
    """Smooth-L1 between student and teacher box regressions at ground-truth centres only.

    Padded ground-truth slots are excluded. A batch without boxes gives a zero that keeps the
    graph.
    """
    total = 0.
    for s_task, t_task, ind, mask in zip(student_preds, teacher_preds, inds, masks):
        s_maps, t_maps = box_regressions(s_task[0]), box_regressions(t_task[0]).detach()
        if s_maps.shape != t_maps.shape:
            raise ValueError(f'student box regressions {tuple(s_maps.shape)} and teacher '
                             f'{tuple(t_maps.shape)} differ: configure both heads alike')
        s_boxes = gather_at_centres(s_maps, ind, mask)
        if len(s_boxes) == 0:
            total = total + s_maps.sum() * 0
            continue
        total = total + loss_fn(s_boxes, gather_at_centres(t_maps, ind, mask))
    return total


def task_class_indices(student_tasks: Sequence[dict],
                       teacher_classes: Sequence[str]) -> Tuple[Tuple[int, ...], ...]:
    """Per student task, the teacher class index of each class (by name).

    Raises:
        ConfigMismatchError: (a ``ValueError``) a student class is not a teacher class.
    """
    out = []
    for task in student_tasks:
        missing = [c for c in task['class_names'] if c not in teacher_classes]
        if missing:
            raise ConfigMismatchError(f'student classes {missing} are not teacher classes '
                                      f'{list(teacher_classes)}')
        out.append(tuple(list(teacher_classes).index(c) for c in task['class_names']))
    return tuple(out)

