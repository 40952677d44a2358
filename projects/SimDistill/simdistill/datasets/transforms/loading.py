"""Loading transforms: points and multi-view images, with errors that name the bad file.

mmdet3d's loaders let a truncated ``.pcd.bin`` fail in a later ``reshape`` and an undecodable
image fail as ``'NoneType' object has no attribute 'shape'``; the ones here wrap them and
raise :mod:`simdistill.errors` naming the file and what was expected.
"""
import os.path as osp
from typing import Callable, Optional

import mmcv
import numpy as np
from mmdet3d.datasets.transforms import (LoadMultiViewImageFromFiles, LoadPointsFromFile,
                                         LoadPointsFromMultiSweeps)
from mmdet3d.registry import TRANSFORMS
from mmengine.fileio import get

from ...errors import CorruptFileError, MissingFileError, SampleLayoutError
from .geometry import init_multiview_geometry


def checked_points(load: Callable[[str], np.ndarray], path: str, load_dim: int) -> np.ndarray:
    """``load(path)`` (flat float32 values), checked to be whole, finite points.

    Args:
        load: mmdet3d's ``_load_points`` of the calling transform.
        path: the point file (``.pcd.bin``: ``load_dim`` float32 values per point).
        load_dim: values per point.

    Returns:
        np.ndarray: (P * load_dim,) float32, P >= 1.

    Raises:
        MissingFileError: the file does not exist.
        CorruptFileError: its size is not a positive multiple of ``4 * load_dim`` bytes, or a
            value is NaN/inf.
    """
    expected = f'a positive multiple of {4 * load_dim} bytes ({load_dim} float32 per point)'
    try:
        points = load(path)
    except FileNotFoundError as err:
        raise MissingFileError(f'point cloud file not found: {path}') from err
    except ValueError as err:  # np.frombuffer: not a whole number of float32 values
        size = osp.getsize(path) if osp.isfile(path) else 'unknown'
        raise CorruptFileError(f'point cloud file {path} is truncated: {size} bytes, expected '
                               f'{expected}') from err
    if points.size == 0 or points.size % load_dim:
        raise CorruptFileError(f'point cloud file {path} is truncated: {points.nbytes} bytes, '
                               f'expected {expected}')
    finite = np.isfinite(points)
    if not finite.all():
        raise CorruptFileError(f'point cloud file {path} holds {int((~finite).sum())} '
                               'non-finite values (NaN/inf)')
    return points


@TRANSFORMS.register_module()
class CheckedLoadPointsFromFile(LoadPointsFromFile):
    """mmdet3d's ``LoadPointsFromFile`` that rejects missing, truncated and non-finite point
    files with an error naming the file (see :func:`checked_points`). Same arguments."""

    def _load_points(self, pts_filename: str) -> np.ndarray:
        return checked_points(super()._load_points, pts_filename, self.load_dim)


@TRANSFORMS.register_module()
class CheckedLoadPointsFromMultiSweeps(LoadPointsFromMultiSweeps):
    """mmdet3d's ``LoadPointsFromMultiSweeps`` with the checks of :func:`checked_points` on
    every sweep file. Same arguments."""

    def _load_points(self, pts_filename: str) -> np.ndarray:
        return checked_points(super()._load_points, pts_filename, self.load_dim)


def sample_name(results: dict) -> str:
    """How messages name a sample: its token, else its index, else its LiDAR file."""
    for key in ('token', 'sample_idx'):
        if results.get(key) is not None:
            return f'{key} {results[key]}'
    return f"lidar_path {results.get('lidar_path', '?')}"


def check_image_files(results: dict, color_type: str, backend_args: Optional[dict]) -> None:
    """Raises naming the first camera whose image is missing or does not decode."""
    for cam, item in results['images'].items():
        path = item['img_path']
        try:
            content = get(path, backend_args=backend_args)
        except FileNotFoundError as err:
            raise MissingFileError(f'{cam} image not found: {path} ({sample_name(results)})'
                                   ) from err
        try:
            img = mmcv.imfrombytes(content, flag=color_type)
        except Exception as err:  # cv2.error on an empty buffer, PIL errors, ...
            img, cause = None, err
        else:
            cause = None
        if img is None or img.ndim != 3 or img.size == 0:
            raise CorruptFileError(f'{cam} image {path} does not decode as a {color_type} image '
                                   f'({len(content)} bytes, {sample_name(results)})') from cause


@TRANSFORMS.register_module()
class LoadMultiViewImagesWithCalib(LoadMultiViewImageFromFiles):
    """mmdet3d's ``LoadMultiViewImageFromFiles`` plus the geometry keys of :mod:`.geometry`.

    The parent sets ``img`` (list of N HxWxC arrays), ``filename``, ``cam2img`` and
    ``lidar2cam`` (lists, as stored in the info file: 3x3 intrinsics and 4x4 extrinsics for
    nuScenes), ``ori_cam2img``, ``img_shape``/``ori_shape``/``pad_shape``, ``scale_factor``,
    ``img_norm_cfg``, ``num_views`` and ``num_ref_frames``, but no per-view ``lidar2img`` (the
    dataset may leave a single-camera one in the results). This subclass then stacks
    ``cam2img`` (padded to 4x4) and ``lidar2cam`` into (N, 4, 4) float32 arrays, resets
    ``img_aug_matrix`` to identity, keeps an earlier ``lidar_aug_matrix`` (identity if none)
    and computes ``lidar2img = cam2img @ lidar2cam @ inv(lidar_aug_matrix)``.

    Args: as for ``LoadMultiViewImageFromFiles`` (set ``num_views=6`` for nuScenes).

    Raises:
        SampleLayoutError: the sample has another number of cameras than ``num_views``.
        MissingFileError: an image file does not exist.
        CorruptFileError: an image does not decode.
        ValueError: if the numbers of images, intrinsics and extrinsics differ, or a matrix
            is malformed; the message names the key.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the images and initialise the geometry keys.

        Args:
            results (dict): needs ``images`` (per-camera dicts with ``img_path``,
                ``cam2img`` and ``lidar2cam``), as built by mmdet3d's ``Det3DDataset``.

        Returns:
            dict: the updated results.
        """
        cameras = list(results.get('images', {}))
        if self.num_ref_frames <= 0 and len(cameras) != self.num_views:
            raise SampleLayoutError(f'{sample_name(results)} has {len(cameras)} cameras '
                                    f'{cameras}, expected num_views={self.num_views}')
        try:
            results = super().transform(results)
        except Exception:
            # The parent reads and decodes in one go; find the file at fault only on failure.
            check_image_files(results, self.color_type, self.backend_args)
            raise
        if results is None:
            return None
        return init_multiview_geometry(results)
