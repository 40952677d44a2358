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

import simdistill  # noqa: F401  (registers the modules; conftest.py applies the shims)
from simdistill.errors import InputError, UnsafeCheckpointError
from simdistill.testing import ROOT, STUDENT, make_runner


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
    from simdistill.checkpoint.loading import load_checkpoint_file
    from simdistill.errors import CorruptFileError
    path = tmp_path / 'damaged.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.0)}}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == 'truncated' else b'hello, world')
    with pytest.raises(CorruptFileError, match=rf"checkpoint '{path}' is truncated or not a "
                       'torch checkpoint'):
        load_checkpoint_file(str(path))


# ---------------------------------------------------------------------------------------------
# info files: plain data and numpy arrays only (simdistill.datasets.safe_pickle)
# ---------------------------------------------------------------------------------------------
def same_content(a, b) -> bool:
    """Deep equality of unpickled info content (numpy arrays and scalars by dtype and value)."""
    import numpy as np
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_content(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same_content, a, b))
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)  # NaN floats


def test_the_converters_info_files_load_exactly(nuscenes_infos):
    """mmdet3d's converter output (v2 infos: numpy arrays, scalars, nested dicts) loads with
    the restricted unpickler to exactly what plain pickle gives."""
    import pickle
    import pickletools
    from simdistill.datasets.safe_pickle import load_info_file
    from simdistill.testing import build_dataset
    for split in ('train', 'val'):
        path = nuscenes_infos[split]
        with open(path, 'rb') as f:
            raw = f.read()
        ops = {op.name for op, _, _ in pickletools.genops(raw)}
        assert 'GLOBAL' in ops or 'STACK_GLOBAL' in ops  # numpy objects: globals are used
        loaded = load_info_file(path)
        assert same_content(loaded, pickle.loads(raw)) and len(loaded['data_list']) > 0
    dataset = build_dataset(nuscenes_infos['root'], nuscenes_infos['val'])
    assert len(dataset) == len(load_info_file(nuscenes_infos['val'])['data_list'])


@pytest.mark.parametrize('kind', ['payload', 'code'])
def test_an_info_file_that_would_run_code_is_refused(tmp_path, kind):
    import pickle
    from simdistill.errors import UnsafeInfoFileError
    from simdistill.testing import build_dataset, info_sample, nuscenes_metainfo
    marker = tmp_path / 'pwned'
    foreign = Payload() if kind == 'payload' else WritesAFile(str(marker))
    sample = info_sample(0)
    sample['extra'] = foreign
    path = tmp_path / 'infos.pkl'
    path.write_bytes(pickle.dumps(dict(metainfo=nuscenes_metainfo(), data_list=[sample]),
                                  protocol=2))
    with pytest.raises(UnsafeInfoFileError) as info:
        build_dataset(tmp_path)
    type_name = 'test_safe_loading.Payload' if kind == 'payload' else 'io.open'
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert str(path) in message and f'holds an object of type {type_name},' in message, message
    assert not marker.exists(), 'loading the info file ran code'
    # plain pickle would have run it: the test's file really is dangerous
    if kind == 'code':
        pickle.loads(path.read_bytes())
        assert marker.exists()


def evil_info_file(tmp_path, content):
    """``content`` with a ``WritesAFile`` inside, pickled to ``tmp_path/evil.pkl``; the path
    and the file that unpickling it would create."""
    import pickle
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps(content(WritesAFile(str(marker))), protocol=2))
    return path, marker


def test_a_gt_paste_database_that_would_run_code_is_refused(tmp_path):
    from simdistill.datasets.transforms.gt_paste import NumpyCompatDataBaseSampler
    from simdistill.errors import UnsafeInfoFileError
    path, marker = evil_info_file(tmp_path, lambda evil: {'car': [dict(path='x', extra=evil)]})
    with pytest.raises(UnsafeInfoFileError, match=r'evil\.pkl.*io\.open'):
        NumpyCompatDataBaseSampler(info_path=str(path), data_root=str(tmp_path), rate=1.0,
                                   prepare={}, sample_groups=dict(car=2), classes=['car'])
    assert not marker.exists(), 'loading the database ran code'


def test_the_metric_refuses_an_info_file_that_would_run_code(tmp_path):
    from simdistill.evaluation import CheckedNuScenesMetric
    from simdistill.errors import UnsafeInfoFileError
    path, marker = evil_info_file(tmp_path, lambda evil: dict(metainfo={}, data_list=[evil]))
    metric = CheckedNuScenesMetric(data_root=str(tmp_path), ann_file=str(path))
    metric.dataset_meta = dict(classes=['car'], version='v1.0-mini')
    with pytest.raises(UnsafeInfoFileError, match=r'evil\.pkl.*io\.open'):
        metric.compute_metrics([])
    assert not marker.exists(), 'loading the info file ran code'
