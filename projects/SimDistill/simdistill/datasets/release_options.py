"""``--cfg-options`` that point a config at another nuScenes release (data root and version).

The CPU configs hold their geometry once (``configs/_base_/datasets/nus-mini-3d-small.py``) and
read v1.0-mini from ``data/nuscenes``. Another release (the synthetic v1.0-trainval benchmark, a
real release) changes only where the data is and its version: the version reaches
``NuScenesMetric`` through the dataset's metainfo, and the metric evaluates v1.0-mini on the
devkit's ``mini_val`` split and v1.0-trainval on ``val``. A ``_base_`` file cannot carry the
switch: mmengine refuses a key set by two bases, so a data variant could not sit beside
``nus-mini-3d-small.py`` under the existing model configs.

    python tools/test.py CONFIG CKPT --cfg-options $(python -m simdistill.datasets.release_options \\
        data/trainval/data/nuscenes v1.0-trainval)
"""
import os.path as osp
import sys
from typing import List

__all__ = ['LOADERS', 'EVALUATORS', 'release_cfg_options']

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
_VERSIONS = ('v1.0-mini', 'v1.0-trainval')


def release_cfg_options(data_root: str, version: str) -> List[str]:
    """The ``KEY=VALUE`` options for ``data_root`` (a folder ``.../data/nuscenes`` holding the
    release and its info pkls from ``tools/create_data.py``) and ``version``.

    Raises:
        ValueError: ``version`` is not v1.0-mini or v1.0-trainval.
    """
    if version not in _VERSIONS:
        raise ValueError(f'version must be one of {_VERSIONS}, got {version!r}')
    root = osp.abspath(data_root) + '/'
    options = []
    for loader in LOADERS:
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.dataset.metainfo.version={version}']
    for evaluator in EVALUATORS:
        options += [f'{evaluator}.data_root={root}',
                    f'{evaluator}.ann_file={root}nuscenes_infos_val.pkl']
    return options


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: python -m simdistill.datasets.release_options DATA_ROOT VERSION')
    try:
        print(' '.join(release_cfg_options(sys.argv[1], sys.argv[2])))
    except ValueError as error:
        sys.exit(f'error: {error}')
