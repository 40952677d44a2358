"""Every entry point that reads a checkpoint loads it weights-only with the project's allow-list:
a pickled object of any other type is refused naming the file and the type, runs no code and
leaves nothing written (runner load_from and resume, a pre-trained init_cfg, the distiller's
teacher_ckpt, the model converters, the ONNX export)."""
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.model import BaseModule
from mmengine.registry import init_default_scope
from torch import nn

import simdistill  # noqa: F401  (applies the shims)
from simdistill.errors import InputError, UnsafeCheckpointError
from test_compat import make_runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT = osp.join(ROOT, 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py')


class Payload:
    """An arbitrary object a checkpoint must not be able to bring in."""


class WritesAFile:
    """Unpickling it would call ``open(path, 'w')``: code run by merely loading the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture(params=['payload', 'code'])
def evil_checkpoint(request, tmp_path):
    """A runner-style checkpoint with real tensors plus one foreign object, its type's name and
    the file unpickling would create."""
    marker = tmp_path / 'pwned'
    foreign = Payload() if request.param == 'payload' else WritesAFile(str(marker))
    path = str(tmp_path / f'evil_{request.param}.pth')
    torch.save({'state_dict': {'linear.weight': torch.zeros(1, 2)}, 'meta': {'x': foreign}},
               path)
    type_name = 'test_safe_loading.Payload' if request.param == 'payload' else 'io.open'
    yield path, type_name
    assert not marker.exists(), 'loading the checkpoint ran code'


def check_refused(info, path, type_name):
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert path in message and f'holds an object of type {type_name} ' in message, message


def test_runner_load_from_is_refused(evil_checkpoint, tmp_path):
    path, type_name = evil_checkpoint
    runner = make_runner(tmp_path / 'work', max_epochs=1, load_from=path)
    with pytest.raises(UnsafeCheckpointError) as info:
        runner.load_or_resume()
    check_refused(info, path, type_name)


def test_runner_resume_is_refused(evil_checkpoint, tmp_path):
    path, type_name = evil_checkpoint
    runner = make_runner(tmp_path / 'work', max_epochs=1, load_from=path, resume=True)
    with pytest.raises(UnsafeCheckpointError) as info:
        runner.load_or_resume()
    check_refused(info, path, type_name)


def test_pretrained_init_cfg_is_refused(evil_checkpoint):
    path, type_name = evil_checkpoint
    module = BaseModule(init_cfg=dict(type='Pretrained', checkpoint=path))
    module.linear = nn.Linear(2, 1)
    with pytest.raises(UnsafeCheckpointError) as info:
        module.init_weights()
    check_refused(info, path, type_name)


def test_distiller_teacher_ckpt_is_refused(evil_checkpoint):
    from simdistill.models.distillers.teacher import load_teacher_weights
    path, type_name = evil_checkpoint
    with pytest.raises(UnsafeCheckpointError) as info:
        load_teacher_weights(nn.Sequential(nn.Linear(2, 1)), path)
    check_refused(info, path, type_name)


def run_tool(script, *args):
    """Runs one of tools/ in this process as ``python tools/<script> args``."""
    argv = sys.argv
    sys.argv = [script, *args]
    try:
        runpy.run_path(osp.join(ROOT, 'tools', script), run_name='__main__')
    finally:
        sys.argv = argv


@pytest.mark.parametrize('converter', ['export_student.py', 'mmdet3d_bevfusion.py'])
def test_model_converters_refuse_and_write_nothing(evil_checkpoint, tmp_path, converter):
    path, type_name = evil_checkpoint
    out = tmp_path / 'out' / 'converted.pth'
    with pytest.raises(UnsafeCheckpointError) as info:
        run_tool(f'model_converters/{converter}', path, str(out))
    check_refused(info, path, type_name)
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_onnx_export_refuses_and_writes_nothing(evil_checkpoint, tmp_path):
    init_default_scope('mmdet3d')
    path, type_name = evil_checkpoint
    out = tmp_path / 'student.onnx'
    with pytest.raises(UnsafeCheckpointError) as info:
        run_tool('deployment/export_onnx.py', STUDENT, path, '--out', str(out))
    check_refused(info, path, type_name)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        osp.basename(path)]


def test_allowed_runner_checkpoint_still_loads(tmp_path):
    """The refusal is the allow-list's, not a blanket one: a runner checkpoint (numpy arrays,
    HistoryBuffer) loads through the same entry point."""
    runner = make_runner(tmp_path / 'first', max_epochs=1)
    runner.train()
    path = str(tmp_path / 'first' / 'epoch_1.pth')
    resumed = make_runner(tmp_path / 'second', max_epochs=1, load_from=path, resume=True)
    resumed.load_or_resume()
    assert resumed.epoch == 1
    for key, value in runner.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


@pytest.mark.parametrize('damage', ['truncated', 'not a checkpoint'])
def test_damaged_checkpoint_names_the_file(tmp_path, damage):
    from simdistill.compat import load_checkpoint_file
    from simdistill.errors import CorruptFileError
    path = tmp_path / 'damaged.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.0)}}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == 'truncated' else b'hello, world')
    with pytest.raises(CorruptFileError, match=rf"checkpoint '{path}' is truncated or not a "
                       'torch checkpoint'):
        load_checkpoint_file(str(path))
