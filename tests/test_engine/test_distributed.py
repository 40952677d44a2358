"""DDP as mmdet3d users run it: tools/dist_train.sh with 2 processes on CPU (gloo) trains the
CPU distiller; the ranks' student weights stay identical and the teacher is not in DDP."""
import os
import os.path as osp
import socket
import subprocess

import pytest
import torch

from simdistill.testing import ROOT, data_options, pretrain_options

pytestmark = pytest.mark.slow
DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'
HERE = osp.dirname(osp.abspath(__file__))  # ddp_probe.py, the ranks' probe hook, is here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_ddp_keeps_ranks_identical_and_the_teacher_outside(
        trained_teacher, image_pretrain, nuscenes_infos, tmp_path):
    config = tmp_path / 'distiller_ddp.py'
    config.write_text(
        f"_base_ = ['{osp.join(ROOT, DISTILLER)}']\n"
        "custom_imports = dict(imports=['simdistill', 'simdistill.compat.enable', 'ddp_probe'],"
        ' allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='FlushDenormalHook'), dict(type='RankWeightsProbeHook')]\n")
    teacher_ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    work_dir = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()),
               PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work_dir),
         '--cfg-options', f'model.teacher_ckpt={teacher_ckpt}', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=2', 'randomness.seed=0', 'train_dataloader.dataset.indices=8',
         *data_options(nuscenes_infos),
         *pretrain_options(image_pretrain, 'model.student')],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert 'gloo' in proc.stdout or 'Distributed launcher: pytorch' in proc.stdout
    load = lambda name: torch.load(work_dir / name, weights_only=False)  # noqa: E731 (ours)
    before, after = load('before_rank0.pth'), [load(f'after_rank{r}.pth') for r in (0, 1)]
    # 8 of the training samples, 2 ranks x batch 2: 2 iterations each
    assert after[0]['iter'] == after[1]['iter'] == 2
    for rank in after:
        assert rank['wrapper'] == 'MMDistributedDataParallel'
        assert rank['wrapped_names'] and not any('teacher' in n for n in rank['wrapped_names'])
        assert all(n.startswith(('module.student.', 'module.lidar_adapter.'))
                   for n in rank['wrapped_names'])
    # every parameter is the same on both ranks (gradients all-reduced), and training moved them
    # (BN running statistics are per rank between DDP's buffer broadcasts, so only parameters)
    assert after[0]['params'].keys() == after[1]['params'].keys()
    for name, value in after[0]['params'].items():
        assert torch.equal(value, after[1]['params'][name]), name
    moved = [n for n, v in after[0]['params'].items() if not torch.equal(v, before['params'][n])]
    assert len(moved) > 0.9 * len(after[0]['params'])
    # the frozen teacher is the checkpoint's on both ranks
    expected = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    for rank in after:
        for key, value in rank['teacher'].items():
            assert torch.equal(value, expected[key]), key
    assert osp.isfile(work_dir / 'epoch_1.pth')
