"""The CPU student trains through ``mim train mmdet3d`` and ``tools/train.py`` from any working
directory: the configs anchor their default data root and pre-trained image backbone at the
repository, and the plugin is found through ``custom_imports``."""
import os.path as osp
import shutil
import sys

import pytest
from mmengine.config import Config

from simdistill.testing import ROOT, STUDENT, data_options, pretrain_options, run


def test_default_paths_point_into_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(STUDENT)
    data_root = osp.realpath(cfg.train_dataloader.dataset.data_root)
    assert data_root == osp.join(ROOT, 'data', 'nuscenes')
    assert osp.realpath(cfg.val_evaluator.ann_file) == osp.join(data_root,
                                                                'nuscenes_infos_val.pkl')
    for part in ('img_backbone', 'img_neck'):
        checkpoint = osp.realpath(cfg.model[part].init_cfg.checkpoint)
        assert checkpoint.startswith(osp.join(ROOT, 'work_dirs', 'pretrain') + osp.sep)


@pytest.mark.slow
@pytest.mark.parametrize('launcher', ['mim', 'tools/train.py'])
def test_student_trains_from_another_folder(launcher, nuscenes_infos, image_pretrain, tmp_path):
    if launcher == 'mim' and shutil.which('mim') is None:
        pytest.fail('openmim is part of requirements/runtime.txt: `mim` must be on PATH')
    command = (['mim', 'train', 'mmdet3d'] if launcher == 'mim' else
               [sys.executable, osp.join(ROOT, 'tools/train.py')])
    work_dir = tmp_path / 'work_dir'
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    # One iteration on two samples, no validation: the point is where things are found.
    run([*command, STUDENT, '--work-dir', str(work_dir), '--cfg-options',
         'train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
         'train_dataloader.dataset.indices=2', *data_options(nuscenes_infos),
         *pretrain_options(image_pretrain)], cwd=str(elsewhere))
    assert (work_dir / 'epoch_1.pth').is_file()
    assert not any(elsewhere.iterdir()), 'nothing is written to the working directory'
