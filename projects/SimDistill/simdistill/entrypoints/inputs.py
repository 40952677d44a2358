"""The files a config names, checked before a tool builds its runner (which writes a work dir).

``tools/train.py CONFIG`` with a data root that does not exist would otherwise create the work
dir and its log, then fail deep inside the dataloader; here it fails first, naming the config
key (``train_dataloader.dataset.data_root``) and the path. The same for the checkpoints a run
starts from (``load_from``, the distiller's ``model.teacher_ckpt``, ``tools/test.py``'s
CHECKPOINT).
"""
import argparse
import os.path as osp
import runpy
import sys
from typing import Iterator, List, Sequence, Tuple

from mmengine.config import Config

from ..datasets.nuscenes_dataset import check_data_root
from ..errors import MissingFileError
from ..utils.mmdet3d_scripts import mmdet3d_tool
from .resume import resume_or_start_from_load_from

# What each mmdet3d tool reads: its dataloaders and evaluators, and checkpoints named in the
# config (dotted keys; an unset or URL value is not checked).
TOOL_INPUTS = {
    'train.py': ('train_dataloader', 'val_dataloader', 'val_evaluator'),
    'test.py': ('test_dataloader', 'test_evaluator'),
}
CHECKPOINT_KEYS = ('load_from', 'model.teacher_ckpt')


def dataset_cfgs(cfg: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """``(config key, dataset dict)`` of a dataset config and the datasets it wraps
    (``CBGSDataset.dataset``, ``ConcatDataset.datasets``)."""
    yield key, cfg
    if isinstance(cfg.get('dataset'), dict):
        yield from dataset_cfgs(cfg['dataset'], f'{key}.dataset')
    for i, inner in enumerate(cfg.get('datasets') or ()):
        yield from dataset_cfgs(inner, f'{key}.datasets.{i}')


def check_files_of(cfg: dict, key: str, ann_file_in_data_root: bool = True) -> None:
    """``data_root`` and ``ann_file`` of one dataset or evaluator.

    A dataset joins a relative ``ann_file`` to its ``data_root`` (mmengine's ``BaseDataset``);
    ``NuScenesMetric`` opens its ``ann_file`` as given (``ann_file_in_data_root=False``).
    """
    data_root = cfg.get('data_root')
    check_data_root(data_root, f'{key}.data_root')
    ann_file = cfg.get('ann_file')
    if ann_file:
        joined = ann_file_in_data_root and data_root and not osp.isabs(ann_file)
        path = osp.join(data_root, ann_file) if joined else ann_file
        if not osp.isfile(path):
            raise MissingFileError(f'{key}.ann_file {path!r} does not exist')


def check_config_inputs(cfg: Config, parts: Sequence[str]) -> None:
    """Checks the data roots and info files of ``parts`` (e.g. ``'train_dataloader'``,
    ``'val_evaluator'``) of ``cfg``; parts the config lacks or sets to None are skipped.

    Raises:
        MissingFileError: naming the config key and the path.
    """
    for part in parts:
        value = cfg.get(part)
        if part.startswith('val') and cfg.get('val_cfg') is None:
            continue
        if not value:
            continue
        if part.endswith('_dataloader'):
            for key, dataset in dataset_cfgs(value.get('dataset') or {}, f'{part}.dataset'):
                check_files_of(dataset, key)
        else:  # an evaluator, or a list of them
            metrics = value if isinstance(value, (list, tuple)) else [value]
            for i, metric in enumerate(metrics):
                check_files_of(metric, part if len(metrics) == 1 else f'{part}.{i}',
                               ann_file_in_data_root=False)


def check_checkpoint(path: object, key: str) -> None:
    """A local checkpoint path must name a file (URLs and unset values are not checked)."""
    if isinstance(path, str) and path and '://' not in path and not osp.isfile(path):
        raise MissingFileError(f'{key} {path!r} does not exist')


def tool_args(tool: str, argv: List[str]) -> argparse.Namespace:
    """``argv`` parsed by the shipped script's own ``parse_args`` (loaded, not run)."""
    parse_args = runpy.run_path(mmdet3d_tool(tool), run_name='simdistill_preflight')['parse_args']
    saved = sys.argv
    sys.argv = [tool, *argv]
    try:
        return parse_args()
    finally:
        sys.argv = saved


def check_tool_inputs(tool: str, argv: List[str]) -> List[str]:
    """Parses a tool's ``argv`` as the tool will and checks the inputs it reads
    (:data:`TOOL_INPUTS`, :data:`CHECKPOINT_KEYS`, test.py's CHECKPOINT); tools not listed in
    :data:`TOOL_INPUTS` are not checked.

    Returns:
        the ``argv`` to run the tool with: for ``train.py``, a bare ``--resume`` is left out
        while there is nothing to resume and ``load_from`` is set
        (:func:`~simdistill.entrypoints.resume.resume_or_start_from_load_from`).
    """
    if tool not in TOOL_INPUTS:
        return argv
    args = tool_args(tool, argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_config_inputs(cfg, TOOL_INPUTS[tool])
    for key in CHECKPOINT_KEYS:
        first, *rest = key.split('.')
        value = cfg.get(first)
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        check_checkpoint(value, key)
    if tool == 'test.py':
        check_checkpoint(args.checkpoint, 'CHECKPOINT')
        return argv
    return resume_or_start_from_load_from(argv, args, cfg)
