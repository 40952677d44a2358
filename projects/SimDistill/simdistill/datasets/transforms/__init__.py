"""Data-pipeline transforms of the BEVFusion-style teacher and the camera student.

Importing this package registers the transforms in mmdet3d's ``TRANSFORMS`` registry. The
geometry conventions they maintain (``img_aug_matrix``, ``lidar_aug_matrix``, ``lidar2img``)
are documented in :mod:`.geometry`; ``Pack3DDetInputs`` must be given
``meta_keys=BEV_META_KEYS`` to carry them into the data samples.
"""
from .geometry import BEV_META_KEYS, img_aug_to_projective, init_multiview_geometry
from .grid_mask import MultiViewGridMask
from .gt_paste import NumpyCompatDataBaseSampler
from .image_aug import MultiViewImageAug3D
from .lidar_aug import BEVGlobalRotScaleTrans, BEVRandomFlip3D
from .loading import (CheckedLoadPointsFromFile, CheckedLoadPointsFromMultiSweeps,
                      LoadMultiViewImagesWithCalib)

__all__ = [
    'BEV_META_KEYS', 'BEVGlobalRotScaleTrans', 'BEVRandomFlip3D', 'CheckedLoadPointsFromFile',
    'CheckedLoadPointsFromMultiSweeps', 'LoadMultiViewImagesWithCalib',
    'MultiViewGridMask', 'MultiViewImageAug3D', 'NumpyCompatDataBaseSampler',
    'img_aug_to_projective', 'init_multiview_geometry'
]
