"""``tools/train.py CONFIG --resume`` with a ``load_from``: resume if there is a run to resume,
else start from ``load_from``.

mmdet3d's ``train.py`` turns a bare ``--resume`` into "resume the latest checkpoint of the work
dir" and sets ``load_from = None`` on the way, so a stage meant to start from another model's
weights (BEVFusion's fusion stage from the LiDAR-only model) silently trains from scratch when
its work dir holds no checkpoint yet, and nothing in the log says so but ``load_from = None``
in the dumped config. A resumable command for such a stage is therefore: while the work dir
holds no checkpoint, run without ``--resume`` (the runner loads ``load_from``'s weights, as
mmengine does without resuming); once it holds one, resume it (its state already started from
``load_from``).
"""
import os.path as osp
from typing import List

from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

__all__ = ['resume_or_start_from_load_from']


def train_work_dir(args, cfg: Config) -> str:
    """Where mmdet3d's ``train.py`` puts the run: ``--work-dir``, else the config's
    ``work_dir``, else ``./work_dirs/<config name>``."""
    if args.work_dir is not None:
        return args.work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def resume_or_start_from_load_from(argv: List[str], args, cfg: Config) -> List[str]:
    """``argv`` of ``train.py``, without its bare ``--resume`` when ``cfg.load_from`` is set and
    the work dir holds no checkpoint to resume (see the module's docstring).

    Args:
        argv: the script's arguments (without the script).
        args: ``argv`` as the script's own ``parse_args`` reads it.
        cfg: the config with the ``--cfg-options`` applied.
    """
    if args.resume != 'auto' or not cfg.get('load_from'):
        return argv
    work_dir = train_work_dir(args, cfg)
    if osp.isdir(work_dir) and find_latest_checkpoint(work_dir):
        return argv  # a run to resume; it started from load_from
    print(f'[simdistill] {work_dir} holds no checkpoint to resume: starting from load_from '
          f'{cfg.load_from} (mmdet3d\'s --resume would drop it)', flush=True)
    return [a for a in argv if a != '--resume']
