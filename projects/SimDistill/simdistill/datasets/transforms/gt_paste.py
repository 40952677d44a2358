"""mmdet3d's GT-paste database sampler, runnable with the numpy the stack pins."""
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from mmdet3d.datasets.transforms import DataBaseSampler
from mmdet3d.registry import TRANSFORMS

from ..safe_pickle import load_info_file


@contextmanager
def _numpy_long() -> Iterator[None]:
    """Provides ``np.long`` for the duration of the block only.

    mmdet3d 1.4's ``DataBaseSampler.sample_all`` builds its labels with ``dtype=np.long``,
    removed in numpy 1.24 (mmdet3d issue #2821); nuscenes-devkit 1.2 needs numpy < 2, so the
    stack runs 1.26 where GT-paste raises ``AttributeError``. Nothing outside the block sees the
    alias, so the plugin changes numpy for no other code.
    """
    if 'long' in vars(np):
        yield
        return
    np.long = np.int64
    try:
        yield
    finally:
        del np.long


@TRANSFORMS.register_module()
class NumpyCompatDataBaseSampler(DataBaseSampler):
    """``DataBaseSampler`` (objects cut from other training scans, for ``ObjectSample``) whose
    sampling runs on numpy >= 1.24; same arguments, same samples. Its database info file is
    read by the restricted unpickler of :mod:`simdistill.datasets.safe_pickle` first: one that
    would run code is refused before mmdet3d's plain-pickle load sees it."""

    def __init__(self, info_path: str, *args, **kwargs) -> None:
        if osp.isfile(info_path):  # a remote info_path goes to mmdet3d's loader alone
            load_info_file(info_path)
        super().__init__(info_path, *args, **kwargs)

    def sample_all(self, *args, **kwargs):
        with _numpy_long():
            return super().sample_all(*args, **kwargs)
