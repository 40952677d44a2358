"""Exact resume after a kill: the CPU teacher and the CPU distiller trained 2 epochs by
tools/train.py end bit for bit where a run SIGKILLed after epoch 1 and resumed with
``--resume`` ends, with the iteration, optimizer and schedulers restored and the distiller's
teacher reloaded, unchanged, from ``teacher_ckpt``.

Determinism settings of the runs (what makes the match bitwise): ``randomness.seed`` fixed,
``randomness.deterministic=True``, one CPU thread (``OMP_NUM_THREADS=1``), dataloader workers 0
(persistent workers would continue their random streams across epochs in one process and
restart them in the next), a checkpoint at each epoch's end (mmengine restarts a part-done
epoch), and ``SeedEachEpochHook`` (``configs/_base_/default_runtime.py``), which reseeds the
augmentations' random streams at each epoch. Tiny schedule: 2 synthetic samples, batch 1,
2 epochs = 4 iterations."""
import hashlib
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config

from simdistill.checkpoint.loading import load_checkpoint_file
from simdistill.testing import ROOT, data_options

pytestmark = pytest.mark.slow
TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'
DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'
EPOCHS, SAMPLES, BATCH = 2, 2, 1
ITERS = EPOCHS * SAMPLES // BATCH
HERE = osp.dirname(osp.abspath(__file__))  # resume_probe.py, the runs' probe hook, is here
KILL_TIMEOUT_S = 300


def probed_config(base: str, out_dir) -> str:
    """``base`` plus :class:`resume_probe.ResumeProbeHook`, written to ``out_dir``."""
    hooks = Config.fromfile(osp.join(ROOT, base)).custom_hooks + [dict(type='ResumeProbeHook')]
    path = osp.join(str(out_dir), 'probed_' + osp.basename(base))
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{osp.join(ROOT, base)}']\n"
                "custom_imports = dict(imports=['simdistill', 'simdistill.compat.enable', "
                "'resume_probe'], allow_failed_imports=False)\n"
                f'custom_hooks = {hooks!r}\n')
    return path


def train_options(infos, camera_model: str) -> list:
    """``--cfg-options`` of every run: the synthetic data, the tiny schedule without
    validation, the determinism settings; the image backbone starts at random (seeded)."""
    return [
        *data_options(infos), f'train_dataloader.dataset.indices={SAMPLES}',
        f'train_dataloader.batch_size={BATCH}', f'train_cfg.max_epochs={EPOCHS}',
        f'train_cfg.val_begin={EPOCHS + 1}', 'randomness.seed=0', 'randomness.deterministic=True',
        f'{camera_model}.img_backbone.init_cfg=None', f'{camera_model}.img_neck.init_cfg=None'
    ]


def train_command(config, work_dir, options, resume=False) -> list:
    return [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
            *(['--resume'] if resume else []), '--cfg-options', *options]


def environment() -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH', ''))


def train(config, work_dir, options, resume=False) -> str:
    proc = subprocess.run(train_command(config, work_dir, options, resume), cwd=ROOT,
                          env=environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def train_and_kill_after_epoch_1(config, work_dir, options) -> int:
    """Starts a full run and SIGKILLs it as soon as mmengine has recorded ``epoch_1.pth`` as
    its last checkpoint (``last_checkpoint`` is written after the checkpoint is complete).

    Returns:
        int: the killed process's return code.
    """
    log = open(osp.join(str(work_dir) + '.log'), 'w')
    proc = subprocess.Popen(train_command(config, work_dir, options), cwd=ROOT,
                            env=environment(), stdout=log, stderr=subprocess.STDOUT)
    pointer = osp.join(str(work_dir), 'last_checkpoint')
    deadline = time.monotonic() + KILL_TIMEOUT_S
    try:
        while not (osp.isfile(pointer) and open(pointer).read().endswith('epoch_1.pth')):
            assert proc.poll() is None, open(log.name).read()[-6000:]
            assert time.monotonic() < deadline, 'no epoch_1.pth within the time limit'
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def assert_identical(a, b, where=''):
    """Nested dicts/lists of tensors and numbers are equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def kill_and_resume(config, work_dir, options) -> dict:
    """Trains with a SIGKILL after epoch 1 and a ``--resume``; the checkpoints and what the
    resumed run restored."""
    returncode = train_and_kill_after_epoch_1(config, work_dir, options)
    after_kill = sorted(os.listdir(work_dir))
    log = train(config, work_dir, options, resume=True)
    return dict(returncode=returncode, after_kill=after_kill, log=log,
                restored=torch.load(osp.join(work_dir, 'restored.pth'), weights_only=False),
                epoch_1=load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth')),
                final=load_checkpoint_file(osp.join(work_dir, f'epoch_{EPOCHS}.pth')))


def check_exact_resume(runs: dict) -> None:
    """The assertions both models share (``runs``: ``uninterrupted`` checkpoint and
    ``resumed`` of :func:`kill_and_resume`)."""
    resumed, uninterrupted = runs['resumed'], runs['uninterrupted']
    assert resumed['returncode'] == -signal.SIGKILL
    assert 'epoch_1.pth' in resumed['after_kill'] and 'epoch_2.pth' not in resumed['after_kill']
    assert f'resumed epoch: 1, iter: {ITERS // EPOCHS}' in resumed['log']
    # what the resumed process restored before its first step is epoch 1's checkpoint
    restored, epoch_1 = resumed['restored'], resumed['epoch_1']
    assert (restored['epoch'], restored['iter']) == (1, ITERS // EPOCHS)
    assert_identical(restored['optimizer'], epoch_1['optimizer'], 'optimizer')
    assert_identical(restored['param_schedulers'], epoch_1['param_schedulers'], 'schedulers')
    assert restored['optimizer']['state'], 'the optimizer state (AdamW moments) is empty'
    # and it finishes where the uninterrupted run finishes, bit for bit
    final = resumed['final']
    assert final['meta']['epoch'] == uninterrupted['meta']['epoch'] == EPOCHS
    assert final['meta']['iter'] == uninterrupted['meta']['iter'] == ITERS
    assert_identical(final['state_dict'], uninterrupted['state_dict'], 'state_dict')
    assert_identical(final['optimizer'], uninterrupted['optimizer'], 'optimizer')
    assert_identical(final['param_schedulers'], uninterrupted['param_schedulers'], 'schedulers')
    # the second epoch moved the weights: the equality above is not of two untouched copies
    moved = [k for k, v in final['state_dict'].items()
             if v.is_floating_point() and not torch.equal(v, epoch_1['state_dict'][k])]
    assert len(moved) > 0.5 * len(final['state_dict'])


@pytest.fixture(scope='module')
def teacher_runs(nuscenes_infos, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('resume_teacher')
    config = probed_config(TEACHER, tmp)
    options = train_options(nuscenes_infos, 'model')
    train(config, tmp / 'uninterrupted', options)
    return dict(
        uninterrupted=load_checkpoint_file(str(tmp / 'uninterrupted' / f'epoch_{EPOCHS}.pth')),
        uninterrupted_file=str(tmp / 'uninterrupted' / f'epoch_{EPOCHS}.pth'),
        resumed=kill_and_resume(config, tmp / 'killed', options))


def test_teacher_killed_and_resumed_ends_bitwise_where_the_uninterrupted_run_does(
        teacher_runs):
    check_exact_resume(teacher_runs)


def sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def distiller_runs(teacher_runs, nuscenes_infos, tmp_path_factory):
    """The distiller against the uninterrupted teacher run's checkpoint."""
    tmp = tmp_path_factory.mktemp('resume_distiller')
    config = probed_config(DISTILLER, tmp)
    teacher_ckpt = teacher_runs['uninterrupted_file']
    digest = sha256(teacher_ckpt)
    options = [*train_options(nuscenes_infos, 'model.student'),
               f'model.teacher_ckpt={teacher_ckpt}']
    train(config, tmp / 'uninterrupted', options)
    return dict(
        uninterrupted=load_checkpoint_file(str(tmp / 'uninterrupted' / f'epoch_{EPOCHS}.pth')),
        resumed=kill_and_resume(config, tmp / 'killed', options), teacher_ckpt=teacher_ckpt,
        teacher_digest=digest)


def test_distiller_killed_and_resumed_ends_bitwise_where_the_uninterrupted_run_does(
        distiller_runs):
    check_exact_resume(distiller_runs)
    keys = distiller_runs['resumed']['final']['state_dict']
    assert all(k.startswith(('student.', 'lidar_adapter.')) for k in keys)


def test_resumed_distiller_reloads_the_teacher_from_teacher_ckpt_unchanged(distiller_runs):
    restored = distiller_runs['resumed']['restored']
    expected = load_checkpoint_file(distiller_runs['teacher_ckpt'])['state_dict']
    assert_identical(restored['teacher'], expected, 'teacher')
    assert restored['teacher_training'] is False
    assert sha256(distiller_runs['teacher_ckpt']) == distiller_runs['teacher_digest']


def test_each_epoch_draws_the_same_numbers_whatever_ran_before():
    import random
    from types import SimpleNamespace

    import numpy as np
    from mmengine.runner import EpochBasedTrainLoop

    from simdistill.engine import SeedEachEpochHook
    hook = SeedEachEpochHook()

    def draws(epoch):
        hook.before_train_epoch(SimpleNamespace(seed=7, epoch=epoch))
        return random.random(), np.random.rand(3).tolist(), torch.rand(2).tolist()

    first = draws(1)
    random.random(), np.random.rand(5), torch.rand(5)  # whatever ran in between
    assert draws(1) == first
    assert draws(2) != first and draws(0) != first
    # resuming inside an epoch is named as not exact
    loop = object.__new__(EpochBasedTrainLoop)
    loop.dataloader = [None] * 4
    messages = []
    logger = SimpleNamespace(warning=messages.append)
    for iteration, expected in ((8, 0), (9, 1)):
        hook.before_train(SimpleNamespace(train_loop=loop, iter=iteration, epoch=2,
                                          logger=logger))
        assert len(messages) == expected
    assert 'resumed at iteration 9, inside epoch 3' in messages[0]
