"""The README's and the docs pages' commands name files that exist and configs that build; the
README stays short and every relative link in it and in the docs resolves."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import MODELS
from simdistill.models.distillers.teacher import teacher_model_cfg
from simdistill.testing import ROOT, drop_image_pretrain

README = osp.join(ROOT, 'README.md')
DOCS = sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
# repo paths a command may name: scripts under tools/, configs under configs/
PATH = re.compile(r'(?<![\w/.-])((?:tools|configs)/[\w./-]+\.(?:py|sh))')
# a markdown link or image to a relative target: [text](target) / ![alt](target)
LINK = re.compile(r'\]\(((?!https?:|#)[^)\s]+)\)')
README_MAX_LINES = 250


def command_paths():
    paths = set()
    for page in [README] + DOCS:
        blocks = re.findall(r'```bash\n(.*?)```', open(page).read(), flags=re.S)
        if page == README:
            assert blocks, 'no bash code blocks in the README'
        paths |= {p for block in blocks for p in PATH.findall(block.replace('\\\n', ' '))}
    return sorted(paths)


def test_readme_is_short_and_links_resolve():
    """The README reads in five minutes (mmdetection3d's project READMEs are this shape) and
    links the rest; no link in it or a docs page points at a missing file."""
    lines = open(README).read().count('\n')
    assert lines <= README_MAX_LINES, f'README.md has {lines} lines (at most {README_MAX_LINES})'
    for page in [README] + DOCS:
        for target in LINK.findall(open(page).read()):
            path = osp.normpath(osp.join(osp.dirname(page), target.split('#')[0]))
            assert osp.exists(path), f'{osp.relpath(page, ROOT)} links {target}, which is missing'
    linked = set(LINK.findall(open(README).read()))
    for page in DOCS:
        assert f'docs/{osp.basename(page)}' in linked, f'README does not link {page}'


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
