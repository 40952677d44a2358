"""The README's commands name files that exist and configs that build."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from simdistill.models.distillers.teacher import teacher_model_cfg
from e2e_helpers import ROOT, drop_image_pretrain

README = osp.join(ROOT, 'README.md')
# repo paths a command may name: scripts under tools/, configs under configs/
PATH = re.compile(r'(?<![\w/.-])((?:tools|configs)/[\w./-]+\.(?:py|sh))')


def command_paths():
    text = open(README).read()
    blocks = re.findall(r'```bash\n(.*?)```', text, flags=re.S)
    assert blocks, 'no bash code blocks in the README'
    paths = sorted({p for block in blocks for p in PATH.findall(block.replace('\\\n', ' '))})
    return paths


def test_readme_names_commands():
    paths = command_paths()
    assert 'tools/run_pipeline.sh' in paths and 'tools/run_tests.sh' in paths
    assert any(p.startswith('configs/') for p in paths)


@pytest.mark.parametrize('path', command_paths())
def test_readme_path_exists_and_config_builds(path, tmp_path):
    assert osp.isfile(osp.join(ROOT, path)), f'README names {path}, which does not exist'
    if path.startswith('configs/'):
        init_default_scope('mmdet3d')
        cfg = Config.fromfile(osp.join(ROOT, path))
        if cfg.model.type == 'SimDistill':  # its teacher checkpoint is a training output
            teacher = MODELS.build(teacher_model_cfg(cfg.model.teacher))
            cfg.model.teacher_ckpt = str(tmp_path / 'teacher.pth')
            torch.save(teacher.state_dict(), cfg.model.teacher_ckpt)
        MODELS.build(drop_image_pretrain(cfg.model))
