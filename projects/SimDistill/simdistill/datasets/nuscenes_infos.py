"""Info files for a nuScenes-format dataset, made by mmdet3d's own converter.

mmdet3d ships ``tools/create_data.py`` inside its wheel (``mmdet3d/.mim/tools``). It only works
as documented: run from the folder that holds ``data/nuscenes`` with
``--root-path ./data/nuscenes --out-dir ./data/nuscenes`` (its v2 update step reads
``./data/nuscenes`` whatever is passed). This module runs it exactly so, for any data root whose
last two parts are ``data/nuscenes``.

The converter writes its pkls in place, in several passes (v1 infos, then v2 over them, then the
GT database). So it runs in a staging ``data/nuscenes`` beside the data root whose inputs (the
release tables, ``samples``, ``sweeps``, ``maps``) are links to the real ones; its outputs are
renamed into the data root only when it has finished. A run killed midway leaves the previous
info files whole (and a hidden ``.nuscenes-infos-<pid>.*`` staging folder, which the next run
removes).
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List

from ..errors import MissingFileError
from ..utils.atomic import remove_stale_temporaries, replace_path
from ..utils.mmdet3d_scripts import mmdet3d_tool, mmdet3d_tools_root

INFO_FILES = ('nuscenes_infos_train.pkl', 'nuscenes_infos_val.pkl')
# The converter's staging folder beside the data root: .nuscenes-infos-<pid>.<random>
STAGING_PREFIX = '.nuscenes-infos-'


# mmdet3d's script makes v1.0-trainval infos only as the first half of `--version v1.0`, whose
# second half converts v1.0-test (and fails where there is none, as in the synthetic release;
# `--version v1.0-trainval` would ask for 'v1.0-trainval-trainval'). This runs that first half
# alone: the script's own nuscenes_data_prep, after what its __main__ block does first.
_TRAINVAL_DRIVER = """
import runpy, sys
from mmengine.registry import init_default_scope
script, max_sweeps = sys.argv[1], int(sys.argv[2])
sys.argv = [script, 'nuscenes']  # the script parses its arguments on import
tool = runpy.run_path(script)  # not as __main__: defines, converts nothing
init_default_scope('mmdet3d')
tool['nuscenes_data_prep'](root_path='./data/nuscenes', info_prefix='nuscenes',
                           version='v1.0-trainval', dataset_name='NuScenesDataset',
                           out_dir='./data/nuscenes', max_sweeps=max_sweeps)
"""


def converter_command(version: str, max_sweeps: int) -> List[str]:
    """The converter's command line, to run from the folder holding ``data/nuscenes``."""
    script = mmdet3d_tool('create_data.py')
    if version == 'v1.0-trainval':
        return [sys.executable, '-c', _TRAINVAL_DRIVER, script, str(max_sweeps)]
    return [
        sys.executable, script, 'nuscenes', '--root-path', './data/nuscenes', '--out-dir',
        './data/nuscenes', '--extra-tag', 'nuscenes', '--version', version, '--max-sweeps',
        str(max_sweeps)
    ]


def create_nuscenes_infos(data_root: str, version: str = 'v1.0-mini',
                          max_sweeps: int = 10, verbose: bool = True) -> Dict[str, str]:
    """Runs mmdet3d's converter on ``data_root`` and returns the info files it wrote.

    Args:
        data_root: a folder ``.../data/nuscenes`` holding ``<version>/*.json``, ``samples``,
            ``sweeps`` and ``maps``.
        version: nuScenes release folder name, e.g. ``'v1.0-mini'`` or ``'v1.0-trainval'``.
        max_sweeps: LiDAR sweeps per key frame to list in the infos.
        verbose: stream the converter's progress to the console; else capture it and show its
            tail only on failure.

    Returns:
        dict: split name (``'train'``, ``'val'``) -> absolute path of its info pkl.

    Raises:
        ValueError: ``data_root`` does not end in ``data/nuscenes``.
        MissingFileError: (a ``FileNotFoundError``) the release tables are missing.
        RuntimeError: the converter failed (its output is in the message).
    """
    data_root = osp.abspath(data_root)
    parent, name = osp.split(data_root)
    if name != 'nuscenes' or osp.basename(parent) != 'data':
        raise ValueError(f'data root {data_root} must end in data/nuscenes: mmdet3d\'s converter '
                         'reads ./data/nuscenes from the folder that holds it')
    tables = osp.join(data_root, version)
    if not osp.isfile(osp.join(tables, 'sample.json')):
        raise MissingFileError(f'no nuScenes tables at {tables}/sample.json')
    remove_stale_temporaries(parent, STAGING_PREFIX)
    workdir = tempfile.mkdtemp(prefix=f'{STAGING_PREFIX}{os.getpid()}.', dir=parent)
    try:
        staged = staging_root(data_root, workdir)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (mmdet3d_tools_root(), env.get('PYTHONPATH', '')) if p)
        pipe = None if verbose else subprocess.PIPE
        proc = subprocess.run(converter_command(version, max_sweeps), cwd=workdir, env=env,
                              stdout=pipe, stderr=subprocess.STDOUT if pipe else None,
                              text=True)
        log = (proc.stdout or '')[-4000:] if pipe else '(its output is above)'
        if proc.returncode != 0:
            raise RuntimeError(f'mmdet3d create_data.py failed on {data_root} '
                               f'(exit {proc.returncode}):\n{log}')
        for name in INFO_FILES:
            if not osp.isfile(osp.join(staged, name)):
                raise RuntimeError(f'mmdet3d create_data.py did not write {name}:\n{log}')
        install_outputs(staged, data_root)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # links and emptied folders only by now
    return {split: osp.join(data_root, f) for split, f in zip(('train', 'val'), INFO_FILES)}


def staging_root(data_root: str, workdir: str) -> str:
    """``workdir/data/nuscenes`` with a link to every input folder of ``data_root`` (not to
    a previous GT database, nor to any file: the converter must not write through a link)."""
    staged = osp.join(workdir, 'data', 'nuscenes')
    os.makedirs(staged)
    for name in os.listdir(data_root):
        path = osp.join(data_root, name)
        if osp.isdir(path) and not name.startswith('.') and not name.endswith('_gt_database'):
            os.symlink(path, osp.join(staged, name))
    return staged


def install_outputs(staged: str, data_root: str) -> None:
    """Renames what the converter wrote in ``staged`` (files and new folders, not the links)
    into ``data_root``, each in one step (:func:`replace_path`: a folder replaces a folder by
    an atomic exchange): the GT database folder first, the info files last, so a reader never
    finds new infos beside an old GT database."""
    outputs = [n for n in os.listdir(staged) if not osp.islink(osp.join(staged, n))]
    order = lambda n: (n in INFO_FILES, not osp.isdir(osp.join(staged, n)))  # noqa: E731
    for name in sorted(outputs, key=order):
        replace_path(osp.join(staged, name), osp.join(data_root, name))
