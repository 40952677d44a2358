"""Camera/LiDAR geometry bookkeeping shared by the multi-view transforms.

Every transform in this package keeps these keys of the results dict consistent (N views):

- ``cam2img`` (N, 4, 4) float32: raw intrinsics padded to 4x4; never changed by augmentation.
- ``lidar2cam`` (N, 4, 4) float32: raw extrinsics (LiDAR frame to camera frame, metres).
- ``img_aug_matrix`` (N, 4, 4) float32: maps a raw-image point ``(u, v, d, 1)`` (pixels, depth
  in metres) to the augmented image; the top-left 2x2 block is rotation * scale (and flip),
  ``[:2, 3]`` the translation in pixels, depth is untouched. Identity without image augmentation.
- ``lidar_aug_matrix`` (4, 4) float32: maps raw LiDAR coordinates to augmented LiDAR
  coordinates, composed in the order the augmentations ran. Identity without LiDAR augmentation.
- ``lidar2img`` (N, 4, 4) float32: projects an augmented LiDAR point ``p`` into the augmented
  image: ``q = lidar2img @ [p, 1]``, pixel ``(q[0] / q[2], q[1] / q[2])``, depth ``q[2]``.
  Invariant: ``lidar2img == P(img_aug_matrix) @ cam2img @ lidar2cam @ inv(lidar_aug_matrix)``
  where ``P`` is :func:`img_aug_to_projective`.

Pixel coordinates are continuous: pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``
so its centre is ``(j + 0.5, i + 0.5)`` and an image of width W spans ``[0, W]``.
"""
from typing import Any, Sequence

import numpy as np

# Meta keys for ``Pack3DDetInputs``: its default ``meta_keys`` in mmdet3d 1.4.0 (which carry
# 'cam2img', 'lidar2cam', 'lidar2img', 'num_views', ...) plus the two augmentation matrices it
# lacks. Configs pass ``Pack3DDetInputs(keys=..., meta_keys=BEV_META_KEYS)``.
BEV_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'lidar2img', 'depth2img', 'cam2img',
                 'pad_shape', 'scale_factor', 'flip', 'pcd_horizontal_flip', 'pcd_vertical_flip',
                 'box_mode_3d', 'box_type_3d', 'img_norm_cfg', 'num_pts_feats', 'pcd_trans',
                 'sample_idx', 'pcd_scale_factor', 'pcd_rotation', 'pcd_rotation_angle',
                 'lidar_path', 'transformation_3d_flow', 'trans_mat', 'affine_aug',
                 'sweep_img_metas', 'ori_cam2img', 'cam2global', 'crop_offset', 'img_crop_offset',
                 'resize_img_shape', 'lidar2cam', 'ori_lidar2img', 'num_ref_frames', 'num_views',
                 'ego2global', 'axis_align_matrix', 'img_aug_matrix', 'lidar_aug_matrix')


def _as_matrix(value: Any, key: str, view: int) -> np.ndarray:
    """One view's matrix as a float64 array, or a ValueError naming ``key``."""
    try:
        mat = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{key}[{view}] is not a numeric matrix: {err}') from err
    return mat


def pad_to_4x4(mat: np.ndarray, key: str = 'cam2img', view: int = 0) -> np.ndarray:
    """Pad a 3x3, 3x4 or 4x4 matrix into the top-left of a 4x4 identity.

    Args:
        mat (np.ndarray): (3, 3), (3, 4) or (4, 4) matrix.
        key (str): results key the matrix came from, for the error message.
        view (int): view index, for the error message.

    Returns:
        np.ndarray: (4, 4) float64 matrix.

    Raises:
        ValueError: if the shape is not one of the three above.
    """
    mat = _as_matrix(mat, key, view)
    if mat.shape not in ((3, 3), (3, 4), (4, 4)):
        raise ValueError(f'{key}[{view}] must be 3x3, 3x4 or 4x4, got shape {mat.shape}')
    out = np.eye(4)
    out[:mat.shape[0], :mat.shape[1]] = mat
    return out


def img_aug_to_projective(img_aug: np.ndarray) -> np.ndarray:
    """Turn image-augmentation matrices into ones that left-multiply ``lidar2img``.

    ``lidar2img @ [p, 1]`` is ``(u * d, v * d, d, 1)``, so a pixel translation ``t`` must be
    applied as ``t * d``: it moves from the last column into the depth column.

    Args:
        img_aug (np.ndarray): (..., 4, 4) BEVFusion-style image augmentation matrices.

    Returns:
        np.ndarray: (..., 4, 4) float64 matrices ``T`` with ``T @ lidar2img`` projecting into
        the augmented image.
    """
    proj = np.array(img_aug, dtype=np.float64, copy=True)
    proj[..., :2, 2] += proj[..., :2, 3]
    proj[..., :2, 3] = 0.0
    return proj


def num_views_of(results: dict) -> int:
    """Number of views, checked across ``img``, ``cam2img`` and ``lidar2cam``.

    Raises:
        ValueError: if ``img`` is not a list of images or a key has another number of views.
    """
    imgs = results.get('img')
    if not isinstance(imgs, (list, tuple)) or len(imgs) == 0:
        raise ValueError(
            "results['img'] must be a non-empty list of HxWxC images (one per view), got "
            f'{type(imgs).__name__}')
    num = len(imgs)
    for key in ('cam2img', 'lidar2cam', 'img_aug_matrix', 'lidar2img'):
        if key in results and len(results[key]) != num:
            raise ValueError(
                f"results['{key}'] has {len(results[key])} views but results['img'] has {num}")
    return num


def has_multiview_geometry(results: dict) -> bool:
    """Whether :func:`init_multiview_geometry` has run on these results."""
    return 'img_aug_matrix' in results and 'lidar2img' in results


def can_init_multiview_geometry(results: dict) -> bool:
    """Whether the results hold multi-view images and their raw calibration."""
    return (isinstance(results.get('img'), (list, tuple)) and 'cam2img' in results
            and 'lidar2cam' in results)


def init_multiview_geometry(results: dict) -> dict:
    """Set the geometry keys from the raw calibration, discarding any earlier ``lidar2img``.

    Call right after the images are loaded: ``img_aug_matrix`` is reset to identity, while an
    existing ``lidar_aug_matrix`` (a LiDAR augmentation that ran before the images were
    loaded) is kept and folded into ``lidar2img``. A stale single-camera ``lidar2img`` that
    the dataset may have set is replaced.

    Args:
        results (dict): needs ``img`` (list of N images), ``cam2img`` (N 3x3/3x4/4x4) and
            ``lidar2cam`` (N 4x4).

    Returns:
        dict: ``results``, with the keys described in this module's docstring.

    Raises:
        ValueError: on a missing key, a view-count mismatch or a malformed matrix; the message
            names the key.
    """
    for key in ('cam2img', 'lidar2cam'):
        if key not in results:
            raise ValueError(f"results['{key}'] is missing; load the images with "
                             'LoadMultiViewImageFromFiles (or a subclass) first')
    # lidar2img/img_aug_matrix from an earlier stage are about to be replaced
    results.pop('lidar2img', None)
    results.pop('img_aug_matrix', None)
    num = num_views_of(results)
    cam2img = np.stack([pad_to_4x4(m, 'cam2img', i) for i, m in enumerate(results['cam2img'])])
    lidar2cam = []
    for i, mat in enumerate(results['lidar2cam']):
        mat = _as_matrix(mat, 'lidar2cam', i)
        if mat.shape != (4, 4):
            raise ValueError(f'lidar2cam[{i}] must be 4x4, got shape {mat.shape}')
        lidar2cam.append(mat)
    lidar2cam = np.stack(lidar2cam)
    lidar_aug = np.asarray(results.get('lidar_aug_matrix', np.eye(4)), dtype=np.float64)
    if lidar_aug.shape != (4, 4):
        raise ValueError(f"results['lidar_aug_matrix'] must be 4x4, got {lidar_aug.shape}")

    results['cam2img'] = cam2img.astype(np.float32)
    results['lidar2cam'] = lidar2cam.astype(np.float32)
    results['img_aug_matrix'] = np.tile(np.eye(4, dtype=np.float32), (num, 1, 1))
    results['lidar_aug_matrix'] = lidar_aug.astype(np.float32)
    results['lidar2img'] = (cam2img @ lidar2cam @ np.linalg.inv(lidar_aug)).astype(np.float32)
    return results


def apply_img_aug(results: dict, view_augs: Sequence[np.ndarray]) -> None:
    """Compose per-view image augmentations into ``img_aug_matrix`` and ``lidar2img``.

    Args:
        results (dict): results with the geometry keys set.
        view_augs (Sequence[np.ndarray]): N (4, 4) matrices mapping the current image of each
            view to its newly augmented image (BEVFusion convention).
    """
    augs = np.stack([np.asarray(a, dtype=np.float64) for a in view_augs])
    img_aug = augs @ np.asarray(results['img_aug_matrix'], dtype=np.float64)
    lidar2img = img_aug_to_projective(augs) @ np.asarray(results['lidar2img'], np.float64)
    results['img_aug_matrix'] = img_aug.astype(np.float32)
    results['lidar2img'] = lidar2img.astype(np.float32)


def apply_lidar_aug(results: dict, lidar_aug: np.ndarray) -> None:
    """Compose a LiDAR augmentation into ``lidar_aug_matrix`` and keep ``lidar2img`` right.

    If the multi-view geometry is not initialised yet but the images and calibration are
    there, it is initialised (from scratch, with the composed LiDAR augmentation); if there
    are no images, only ``lidar_aug_matrix`` is recorded.

    Args:
        results (dict): the results dict.
        lidar_aug (np.ndarray): (4, 4) matrix mapping the current LiDAR frame to the newly
            augmented one.
    """
    lidar_aug = np.asarray(lidar_aug, dtype=np.float64)
    prev = np.asarray(results.get('lidar_aug_matrix', np.eye(4)), dtype=np.float64)
    results['lidar_aug_matrix'] = (lidar_aug @ prev).astype(np.float32)
    if has_multiview_geometry(results):
        lidar2img = np.asarray(results['lidar2img'], np.float64) @ np.linalg.inv(lidar_aug)
        results['lidar2img'] = lidar2img.astype(np.float32)
    elif can_init_multiview_geometry(results):
        init_multiview_geometry(results)
