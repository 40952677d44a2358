"""Fixtures of the model tests: mmdet3d's default registry scope, and a teacher checkpoint the
distiller tests load (a runner-style file: ``state_dict`` and ``meta``)."""
import pytest
import torch
from mmengine.registry import init_default_scope

from simdistill.testing import trained_looking_teacher


@pytest.fixture(scope='module', autouse=True)
def mmdet3d_scope():
    init_default_scope('mmdet3d')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A CPU teacher whose weights look trained (:func:`trained_looking_teacher`), saved."""
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save({'state_dict': trained_looking_teacher().state_dict(), 'meta': {'epoch': 12}},
               path)
    return path
