"""The teachers of every size share one model structure (``configs/_base_/models/``).

``bevfusion-centerhead.py`` holds what the CPU and paper teachers have in common (types, norms,
losses, the head's branches, coder and target / decoding settings); a teacher adds its sizes
and geometry. A teacher that changed one of those shared values would make the two sizes differ
in more than their size while the base still reads as shared: move such a key out of the base
into both teachers instead.
"""
import os.path as osp

import pytest
from mmengine.config import Config

from simdistill.testing import ROOT

MODEL_BASE = osp.join(ROOT, 'configs/_base_/models/bevfusion-centerhead.py')
TEACHERS = [
    'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py',
    'configs/bevfusion/bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py',
]


def leaves(cfg, path=()):
    """(key path, value) of every non-dict value in a nested dict."""
    for key, value in cfg.items():
        if isinstance(value, dict):
            yield from leaves(value, path + (key, ))
        else:
            yield path + (key, ), value


@pytest.mark.parametrize('config', TEACHERS)
def test_teacher_keeps_every_value_of_the_model_base(config):
    base = Config.fromfile(MODEL_BASE).model
    model = Config.fromfile(osp.join(ROOT, config)).model
    shared = list(leaves(base))
    assert len(shared) > 30  # the base is the skeleton, not an empty file
    for path, value in shared:
        got = model
        for key in path:
            got = got[key]
        assert got == value, (f'{config} sets model.{".".join(path)} = {got!r}; the model base '
                              f'({MODEL_BASE}) says {value!r}')
