"""Student-only weights from a SimDistill checkpoint: what a deployment loads."""
from typing import Dict

import torch
from torch import Tensor

from ...checkpoint.loading import load_checkpoint_file
from ...checkpoint.state_dicts import plain_state_dict
from ...utils.atomic import atomic_path
from .simdistill import split_student_state


def export_student_weights(distiller_ckpt: str, out: str) -> Dict[str, Tensor]:
    """Writes ``{'state_dict': student weights, 'meta': ...}`` to ``out`` atomically.

    The distiller's checkpoint holds the student (``student.*``) and the distillation adapter;
    the teacher is never saved in it. The result loads into the student config alone
    (``tools/test.py STUDENT_CONFIG out``, ``load_from=out``).

    Returns:
        the student's state dict as written.
    """
    checkpoint = load_checkpoint_file(distiller_ckpt, map_location='cpu')
    student = split_student_state(plain_state_dict(checkpoint, distiller_ckpt))
    meta = {'source': str(distiller_ckpt)}
    source_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    for key in ('epoch', 'iter'):
        if isinstance(source_meta.get(key), int):
            meta[key] = source_meta[key]
    with atomic_path(out) as tmp:
        torch.save({'state_dict': student, 'meta': meta}, tmp)
    return student
