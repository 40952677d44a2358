"""``tools/train.py CONFIG --resume --cfg-options load_from=CKPT``: a staged run (BEVFusion's
fusion stage from the LiDAR-only model) starts from ``load_from`` while its work dir holds
nothing to resume, and resumes its own checkpoint afterwards. mmdet3d's ``train.py`` alone sets
``load_from = None`` for a bare ``--resume`` and trains from scratch."""
import os.path as osp
import sys

import pytest
import torch

from simdistill.checkpoint.loading import load_checkpoint_file
from simdistill.checkpoint.state_dicts import plain_state_dict
from simdistill.entrypoints.inputs import check_tool_inputs
from simdistill.testing import LIDAR_ONLY, ROOT, data_options, run, save_untrained_checkpoint


def trained_parameters(path):
    """A checkpoint's tensors less the BN statistics, which move in train mode at any lr."""
    state = plain_state_dict(load_checkpoint_file(path, map_location='cpu'), path)
    return {k: v for k, v in state.items()
            if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))}


def test_bare_resume_is_dropped_only_while_there_is_nothing_to_resume(nuscenes_infos, tmp_path):
    init = tmp_path / 'init.pth'
    init.touch()
    work = tmp_path / 'work'
    argv = [LIDAR_ONLY, '--work-dir', str(work), '--resume', '--cfg-options',
            *data_options(nuscenes_infos)]
    with_init = argv + [f'load_from={init}']
    assert check_tool_inputs('train.py', with_init) == [a for a in with_init if a != '--resume']
    assert check_tool_inputs('train.py', argv) == argv  # no load_from: mmdet3d's auto-resume
    explicit = [LIDAR_ONLY, '--work-dir', str(work), '--resume', str(init), '--cfg-options',
                *data_options(nuscenes_infos), f'load_from={init}']
    assert check_tool_inputs('train.py', explicit) == explicit  # a named checkpoint: as asked
    work.mkdir()
    (tmp_path / 'epoch_1.pth').touch()
    (work / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert check_tool_inputs('train.py', with_init) == with_init  # a run to resume


@pytest.mark.slow
def test_a_resumable_stage_starts_from_load_from(nuscenes_infos, tmp_path):
    """At learning rate 0 the first epoch's checkpoint holds exactly ``load_from``'s weights
    (the model initialised from seed 1); from scratch (mmdet3d's behaviour) it would hold the
    run's own initialisation (seed 0)."""
    init = str(tmp_path / 'init.pth')
    save_untrained_checkpoint(osp.join(ROOT, LIDAR_ONLY), init, seed=1)
    work = str(tmp_path / 'work')
    run([sys.executable, 'tools/train.py', LIDAR_ONLY, '--work-dir', work, '--resume',
         '--cfg-options', *data_options(nuscenes_infos),
         f'train_dataloader.dataset.ann_file={nuscenes_infos["val"]}', f'load_from={init}',
         'train_cfg.max_epochs=1', 'train_cfg.val_interval=2', 'optim_wrapper.optimizer.lr=0',
         'param_scheduler.1.eta_min=0', 'randomness.seed=0'], cwd=ROOT)
    start, after = trained_parameters(init), trained_parameters(osp.join(work, 'epoch_1.pth'))
    assert set(start) == set(after)
    assert len(start) > 20
    different = [k for k in start if not torch.equal(start[k], after[k])]
    assert not different, different[:5]
