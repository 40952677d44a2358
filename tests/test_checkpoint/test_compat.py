"""The torch 2.13 shims of simdistill.compat: safe checkpoint loading and spconv on CPU, applied
only when asked for (conftest.py applies them for the session, as a config's ``custom_imports``
does; importing the plugin applies none)."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint

import simdistill
from simdistill.checkpoint.loading import load_checkpoint_file
from simdistill.testing import ROOT, TinyModel, make_runner


class NotAllowed:
    """A class no checkpoint should be able to instantiate."""


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('runner')
    runner = make_runner(work_dir, max_epochs=1)
    runner.train()
    return work_dir, osp.join(work_dir, 'epoch_1.pth')


def test_runner_checkpoint_holds_numpy_and_message_hub(runner_checkpoint):
    # The allow-list must cover what an unpatched torch refuses: check the file really has it.
    _, path = runner_checkpoint
    plain = subprocess.run([sys.executable, '-c', f'import torch; torch.load({path!r})'],
                           capture_output=True, text=True)
    assert plain.returncode != 0 and 'HistoryBuffer' in plain.stderr
    ckpt = load_checkpoint_file(path)
    history = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(history, HistoryBuffer)
    assert isinstance(history.data[0], np.ndarray)
    assert history.min() == pytest.approx(float(np.min(history.data[0])))


def test_runner_resumes_with_weights_only(runner_checkpoint):
    work_dir, path = runner_checkpoint
    runner = make_runner(work_dir, max_epochs=2, resume=True, load_from=path)
    runner.train()
    assert runner.epoch == 2
    ckpt = load_checkpoint_file(osp.join(work_dir, 'epoch_2.pth'))  # weights_only=True
    assert ckpt['meta']['epoch'] == 2


def test_arbitrary_object_is_refused_naming_the_file(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError, match='evil.pth') as info:
        load_checkpoint(TinyModel(), path)
    assert 'NotAllowed' in str(info.value)


def test_getattr_is_limited_to_history_buffer_methods(tmp_path):
    # A pickle that calls getattr on anything but HistoryBuffer must not load.
    class Sneaky:

        def __reduce__(self):
            return getattr, (np.ndarray, '__class__')

    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        load_checkpoint_file(path)


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_runner_checkpoint_loads_with_torch_global_safe_list_left_alone(runner_checkpoint):
    """The allow-list is scoped to each load: neither load_checkpoint_file nor mmengine's loader
    (routed through it by the session's shims) adds to torch's process-wide list, which holds
    none of it (only what torch registers itself, e.g. torch.distributed's DeviceMesh)."""
    from mmengine.runner.checkpoint import _load_checkpoint
    from simdistill.checkpoint.loading import checkpoint_safe_globals
    _, path = runner_checkpoint
    before = torch.serialization.get_safe_globals()
    ours = {g[0] if isinstance(g, tuple) else g for g in checkpoint_safe_globals()}
    assert not ours & {g[0] if isinstance(g, tuple) else g for g in before}
    assert not any(g.__module__.startswith(('numpy', 'mmengine')) for g in before
                   if not isinstance(g, tuple))
    for ckpt in (load_checkpoint_file(path), _load_checkpoint(path, map_location='cpu')):
        assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
        assert torch.serialization.get_safe_globals() == before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)  # torch's own default is untouched


# What a fresh interpreter sees after importing MODULES (argv[1], comma separated; then
# apply_all() again when argv[2] is 'again'): the process-wide objects the shims replace. The
# upstream stack is imported after them in every run, so that the safe globals torch's own
# modules register (torch.distributed's DTensor, ...) are the same with and without the plugin.
STATE_PROBE = textwrap.dedent("""
    import importlib, json, sys
    for name in filter(None, sys.argv[1].split(',')):
        importlib.import_module(name)
    if sys.argv[2] == 'again':
        from simdistill.compat import apply_all
        apply_all()
    for name in ('mmengine.runner', 'mmdet3d.models', 'mmdet3d.datasets'):
        importlib.import_module(name)
    import torch
    from mmengine.dist import utils as dist_utils
    from mmengine.runner.checkpoint import CheckpointLoader
    name = lambda f: f'{f.__module__}.{f.__qualname__}'
    state = dict(
        cuda=torch.cuda.is_available(),
        safe_globals=sorted(f'{name(g[0])} as {g[1]}' if isinstance(g, tuple) else name(g)
                            for g in torch.serialization.get_safe_globals()),
        local_loader=name(CheckpointLoader._schemes['']),
        init_dist_pytorch=name(dist_utils._init_dist_pytorch))
    try:
        import spconv.pytorch  # noqa: F401
        from spconv.pytorch import cppcore
        state['spconv_stream'] = name(cppcore.get_current_stream)
    except ImportError:
        state['spconv_stream'] = None
    print(json.dumps(state))
""")


def process_state(*modules: str, again: bool = False) -> dict:
    """:data:`STATE_PROBE` run in a fresh interpreter that imports ``modules`` first."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [osp.dirname(osp.dirname(simdistill.__file__)), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, '-c', STATE_PROBE, ','.join(modules), 'again' if again else ''],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def plain_state() -> dict:
    """A plain interpreter's: torch's, mmengine's and spconv's own."""
    state = process_state()
    assert state['local_loader'] == 'mmengine.runner.checkpoint.load_from_local'
    assert state['init_dist_pytorch'] == 'mmengine.dist.utils._init_dist_pytorch'
    assert state['spconv_stream'] is None or state['spconv_stream'].startswith('spconv')
    return state


@pytest.mark.parametrize('module', ['simdistill.models', 'simdistill'])
def test_importing_the_plugin_changes_nothing_process_wide(plain_state, module):
    assert process_state(module) == plain_state


def test_compat_enable_applies_the_shims_and_only_them(plain_state):
    """``simdistill.compat.enable`` (the configs' custom_imports) replaces mmengine's local
    loader and, on CPU-only torch, spconv's stream lookup and mmengine's DDP init; torch's
    safe-globals list stays as it was. A second ``apply_all()`` changes nothing."""
    enabled = process_state('simdistill.compat.enable')
    assert enabled['safe_globals'] == plain_state['safe_globals']
    assert enabled['local_loader'] == 'simdistill.checkpoint.loading.load_from_local'
    cpu_only = not plain_state['cuda']
    assert (enabled['init_dist_pytorch'] != plain_state['init_dist_pytorch']) == cpu_only
    assert ('simdistill.compat' in enabled['init_dist_pytorch']) == cpu_only
    if plain_state['spconv_stream'] is not None:
        assert (enabled['spconv_stream'] != plain_state['spconv_stream']) == cpu_only
        assert ('simdistill.compat' in enabled['spconv_stream']) == cpu_only
    assert process_state('simdistill.compat.enable', again=True) == enabled


def test_every_shipped_config_enables_the_shims():
    """Every config (its own ``custom_imports`` or default_runtime's) imports the plugin and
    ``simdistill.compat.enable``, so a runner built from it loads checkpoints weights-only."""
    import glob
    from mmengine.config import Config
    configs = [
        c for c in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in c
    ]
    assert configs
    for config in configs:
        imports = Config.fromfile(config, import_custom_modules=False).custom_imports.imports
        assert imports[:2] == ['simdistill', 'simdistill.compat.enable'], config


def test_sparse_encoder_forward_backward_on_cpu():
    pytest.importorskip('spconv')
    from mmdet3d.models.middle_encoders import SparseEncoder
    torch.manual_seed(0)
    sparse_shape = [41, 64, 64]
    encoder = SparseEncoder(
        in_channels=5, sparse_shape=sparse_shape, order=('conv', 'norm', 'act'),
        encoder_channels=((16, 16, 32), (32, 32, 64), (64, 64, 128), (128, 128)),
        encoder_paddings=((0, 0, 1), (0, 0, 1), (0, 0, [0, 1, 1]), (0, 0)),
        block_type='basicblock')
    # Unique voxels in two samples: (batch, z, y, x).
    coors = []
    for b in range(2):
        flat = torch.randperm(41 * 64 * 64)[:300]
        z, y, x = flat // (64 * 64), (flat // 64) % 64, flat % 64
        coors.append(torch.stack((torch.full_like(z, b), z, y, x), dim=1))
    coors = torch.cat(coors).int()
    feats = torch.randn(len(coors), 5, requires_grad=True)
    out = encoder(feats, coors, 2)
    assert out.shape[0] == 2 and out.shape[-2:] == (8, 8)
    out.sum().backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    assert feats.grad.abs().sum() > 0


def _center_head(type_name):
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    tasks = [dict(num_class=1, class_names=['car']), dict(num_class=2, class_names=['a', 'b'])]
    head = MODELS.build(
        dict(
            type=type_name, in_channels=64, tasks=tasks, share_conv_channel=32,
            common_heads=dict(reg=(2, 2)),
            separate_head=dict(type='SeparateHead', head_conv=32, init_bias=-2.19,
                               final_kernel=3),
            bbox_coder=dict(type='CenterPointBBoxCoder', pc_range=[-51.2, -51.2],
                            voxel_size=[0.2, 0.2], out_size_factor=4, code_size=9)))
    head.init_weights()
    head.train()
    return head


def _initial_heatmap_probs(head):
    with torch.no_grad():
        outs = head([torch.randn(2, 64, 32, 32)])
    return [task_out[0]['heatmap'].sigmoid() for task_out in outs]


def test_prior_init_center_head_starts_at_the_focal_prior():
    """The project's CenterHead initialises its task heads (mmdet3d 1.4 skips them) and gives
    each heatmap's last conv PyTorch's default weights: logits start near init_bias, as in
    CenterPoint."""
    head = _center_head('PriorInitCenterHead')
    for task_head in head.task_heads:
        conv = task_head.heatmap[-1]
        assert torch.equal(conv.bias.detach(), torch.full_like(conv.bias, -2.19))
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        # kaiming_uniform(a=sqrt(5)) = U(-b, b), b = 1/sqrt(fan_in): std b/sqrt(3)
        expected_std = 1 / np.sqrt(3 * fan_in)
        assert abs(conv.weight.std().item() / expected_std - 1) < 0.1
    for prob in _initial_heatmap_probs(head):
        # sigmoid(-2.19) = 0.10
        assert abs(prob.mean().item() - 0.10) < 0.03
        assert (prob > 0.5).float().mean().item() < 0.01


def test_importing_the_plugin_leaves_mmdet3d_center_head_unchanged():
    """mmdet3d's own CenterHead keeps its (Kaiming) initialisation after ``import simdistill``:
    the plugin changes no upstream model process-wide."""
    import simdistill  # noqa: F401
    from mmdet3d.models.dense_heads import CenterHead
    from simdistill.models.dense_heads import PriorInitCenterHead
    assert CenterHead.init_weights is not PriorInitCenterHead.init_weights
    assert 'simdistill' not in CenterHead.init_weights.__module__
    probs = torch.cat([p.flatten() for p in _initial_heatmap_probs(_center_head('CenterHead'))])
    # mmdet3d 1.4's init leaves the bias random and the weights Kaiming: far from the prior
    assert (probs > 0.5).float().mean().item() > 0.05
