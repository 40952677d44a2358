"""Per-view resize / crop / flip / rotation of multi-view images, tracked in ``img_aug_matrix``."""
import math
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import TRANSFORMS

from .geometry import (apply_img_aug, has_multiview_geometry, init_multiview_geometry,
                       num_views_of)

# interpolation name -> (cv2.resize flag used first when shrinking, or None; cv2.warpAffine
# flag). Shrinking with 'bilinear' averages areas first so that it does not alias; cv2's
# nearest resizes use the ratio of the rounded sizes instead of the factor, so 'nearest' is
# done by the warp alone.
_INTERPOLATIONS = {
    'nearest': (None, cv2.INTER_NEAREST),
    'bilinear': (cv2.INTER_AREA, cv2.INTER_LINEAR),
}


def check_pair(value: Sequence[float], name: str) -> Tuple[float, float]:
    """``value`` as an ordered ``(low, high)`` pair of floats, or a ValueError naming it."""
    if isinstance(value, (str, bytes)) or not hasattr(value, '__len__') or len(value) != 2:
        raise ValueError(f'{name} must be a (low, high) pair, got {value!r}')
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{name} must hold two numbers, got {value!r}') from err
    if not low <= high:
        raise ValueError(f'{name} must satisfy low <= high, got {value!r}')
    return low, high


def check_size(value: Sequence[int], name: str) -> Tuple[int, int]:
    """``value`` as an ``(H, W)`` pair of positive ints, or a ValueError naming it."""
    ok = (not isinstance(value, (str, bytes)) and hasattr(value, '__len__') and len(value) == 2
          and all(
              isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
              for v in value))
    if not ok:
        raise ValueError(f'{name} must be (H, W), two positive integers in pixels, got '
                         f'{value!r}')
    return int(value[0]), int(value[1])


@TRANSFORMS.register_module()
class MultiViewImageAug3D(BaseTransform):
    """Resize, crop, flip and rotate every view and record it in ``img_aug_matrix``.

    For each view independently (in training): resize by a factor ``s``, crop a
    ``final_dim`` window, optionally flip horizontally, rotate about the centre of the
    cropped image. On continuous pixel coordinates (see :mod:`.geometry`) this is one affine
    map ``M = Rot_c @ Flip @ Crop @ Scale``, which is composed onto ``img_aug_matrix``;
    ``lidar2img`` is updated so that augmented LiDAR points project into the augmented
    images. Output pixels that come from outside the resized image are 0.

    The crop window of a view resized to ``(s * H, s * W)`` has its bottom edge at
    ``(1 - b) * s * H`` (``b`` from ``bot_pct_lim``: the fraction of the resized height cut
    away below the window; the window's top is ``int((1 - b) * s * H) - final_dim[0]``, which
    may be negative, giving a black band) and its left edge at an integer in
    ``[0, max(0, s * W - final_dim[1])]``.

    Training (``is_train=True``) samples ``s`` uniformly in ``resize_lim``, ``b`` in
    ``bot_pct_lim``, the left edge uniformly, a flip with probability 0.5 when
    ``rand_flip``, and the angle uniformly in ``rot_lim``. Otherwise everything is
    deterministic: ``s`` and ``b`` are the means of their ranges, the window is centred
    horizontally, no flip, no rotation, so ``img_aug_matrix`` is a pure scale + crop.

    Required keys: ``img`` (list of N HxWxC arrays, usually uint8), ``cam2img``,
    ``lidar2cam`` (N each; the geometry keys are initialised here if no earlier transform
    did). Modified keys: ``img`` (N final_dim[0] x final_dim[1] x C, same dtype),
    ``img_shape`` and ``pad_shape`` (set to ``final_dim``), ``img_aug_matrix``,
    ``lidar2img``; ``ori_shape`` is set to the raw image shape if missing. ``scale_factor``
    (1.0 from the loader) is left alone: the per-view resize is in ``img_aug_matrix``.

    Args:
        final_dim (Sequence[int]): output image size ``(H, W)`` in pixels.
        resize_lim (Sequence[float]): ``(low, high)`` range of the resize factor
            (dimensionless, output pixels per input pixel), e.g. ``(0.38, 0.55)`` for
            1600x900 nuScenes images and ``final_dim=(256, 704)``.
        bot_pct_lim (Sequence[float]): ``(low, high)`` range of the fraction of the resized
            image height cut away below the crop window, in ``[0, 1)``. Defaults to
            ``(0.0, 0.0)`` (window at the bottom of the image).
        rot_lim (Sequence[float]): ``(low, high)`` range of the rotation angle in degrees;
            positive angles turn the image content counter-clockwise on screen. Defaults to
            ``(0.0, 0.0)``.
        rand_flip (bool): in training, flip horizontally with probability 0.5. Defaults to
            False.
        is_train (bool): sample the augmentation (True) or use the deterministic test-time
            resize and crop (False). Defaults to False.
        interpolation (str): ``'bilinear'`` (area averaging when shrinking, bilinear
            otherwise) or ``'nearest'``. Defaults to ``'bilinear'``.

    Raises:
        ValueError: on malformed parameters (the message names the parameter) or inputs (it
            names the results key).
    """

    def __init__(self,
                 final_dim: Sequence[int],
                 resize_lim: Sequence[float],
                 bot_pct_lim: Sequence[float] = (0.0, 0.0),
                 rot_lim: Sequence[float] = (0.0, 0.0),
                 rand_flip: bool = False,
                 is_train: bool = False,
                 interpolation: str = 'bilinear') -> None:
        self.final_dim = check_size(final_dim, 'final_dim')
        self.resize_lim = check_pair(resize_lim, 'resize_lim')
        if self.resize_lim[0] <= 0:
            raise ValueError(f'resize_lim must be positive, got {resize_lim!r}')
        self.bot_pct_lim = check_pair(bot_pct_lim, 'bot_pct_lim')
        if self.bot_pct_lim[0] < 0 or self.bot_pct_lim[1] >= 1:
            raise ValueError(f'bot_pct_lim must lie in [0, 1), got {bot_pct_lim!r}')
        self.rot_lim = check_pair(rot_lim, 'rot_lim')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(_INTERPOLATIONS)}, got '
                             f'{interpolation!r}')
        self.rand_flip = bool(rand_flip)
        self.is_train = bool(is_train)
        self.interpolation = interpolation

    def sample_params(self, height: int, width: int) -> Dict[str, float]:
        """Draw one view's augmentation.

        Args:
            height (int): input image height in pixels.
            width (int): input image width in pixels.

        Returns:
            dict: ``scale`` (resize factor), ``crop_left`` and ``crop_top`` (integer pixel
            offsets of the window in the resized image), ``flip`` (bool) and ``rot_deg``.
        """
        out_h, out_w = self.final_dim
        if self.is_train:
            scale = np.random.uniform(*self.resize_lim)
            bot_pct = np.random.uniform(*self.bot_pct_lim)
            crop_left = int(np.random.uniform(0, max(0.0, scale * width - out_w)))
            flip = self.rand_flip and np.random.rand() < 0.5
            rot_deg = np.random.uniform(*self.rot_lim)
        else:
            scale = float(np.mean(self.resize_lim))
            bot_pct = float(np.mean(self.bot_pct_lim))
            crop_left = int(max(0.0, scale * width - out_w) / 2)
            flip, rot_deg = False, 0.0
        crop_top = int((1 - bot_pct) * scale * height) - out_h
        return dict(
            scale=float(scale),
            crop_left=crop_left,
            crop_top=crop_top,
            flip=bool(flip),
            rot_deg=float(rot_deg))

    def post_resize_affine(self, params: Dict[str, float]) -> np.ndarray:
        """Crop, flip and rotation as a 3x3 affine map on continuous pixel coordinates.

        Args:
            params (dict): as returned by :meth:`sample_params`.

        Returns:
            np.ndarray: (3, 3) float64 map from the resized image to the output image.
        """
        out_h, out_w = self.final_dim
        affine = np.eye(3)
        affine[:2, 2] = -params['crop_left'], -params['crop_top']
        if params['flip']:
            affine = np.array([[-1.0, 0.0, out_w], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ affine
        if params['rot_deg'] != 0.0:
            angle = math.radians(params['rot_deg'])
            cos, sin = math.cos(angle), math.sin(angle)
            # rotation about the output centre; with y pointing down this turns the content
            # counter-clockwise on screen for a positive angle
            rot = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
            centre = np.array([[1.0, 0.0, out_w / 2], [0.0, 1.0, out_h / 2], [0.0, 0.0, 1.0]])
            affine = centre @ rot @ np.linalg.inv(centre) @ affine
        return affine

    def view_matrix(self, params: Dict[str, float]) -> np.ndarray:
        """The (4, 4) ``img_aug_matrix`` factor of one view (depth row untouched)."""
        affine = self.post_resize_affine(params) @ np.diag([params['scale'], params['scale'], 1])
        mat = np.eye(4)
        mat[:2, :2] = affine[:2, :2]
        mat[:2, 3] = affine[:2, 2]
        return mat

    def warp_image(self, img: np.ndarray, params: Dict[str, float]) -> np.ndarray:
        """Apply one view's augmentation to its image.

        One ``cv2.warpAffine`` of the whole map; except when shrinking with ``'bilinear'``:
        then a ``cv2.resize`` with area averaging (given the factor itself, so that it maps
        ``u -> scale * u`` exactly) comes first and the warp does crop, flip and rotation.

        Args:
            img (np.ndarray): (H, W, C) image.
            params (dict): as returned by :meth:`sample_params`.

        Returns:
            np.ndarray: (final_dim[0], final_dim[1], C) image of the input's dtype.
        """
        shrink, warp = _INTERPOLATIONS[self.interpolation]
        scale = params['scale']
        affine = self.post_resize_affine(params)
        if shrink is not None and scale < 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=shrink)
        else:
            affine = affine @ np.diag([scale, scale, 1.0])
        # cv2 puts pixel centres at integer coordinates, this module at +0.5
        half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
        affine = np.linalg.inv(half) @ affine @ half
        out_h, out_w = self.final_dim
        out = cv2.warpAffine(
            img,
            affine[:2], (out_w, out_h),
            flags=warp,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0)
        if out.ndim == 2:  # cv2 drops a single channel axis
            out = out[..., None]
        return out

    def transform(self, results: dict) -> dict:
        """Augment every view of ``results['img']`` and update the geometry keys.

        Args:
            results (dict): see the class docstring for the required keys.

        Returns:
            dict: the updated results.
        """
        num_views_of(results)
        if not has_multiview_geometry(results):
            init_multiview_geometry(results)
        imgs, augs = [], []
        for view, img in enumerate(results['img']):
            if not isinstance(img, np.ndarray) or img.ndim != 3:
                raise ValueError(f"results['img'][{view}] must be an HxWxC array, got "
                                 f"{getattr(img, 'shape', type(img).__name__)}")
            params = self.sample_params(img.shape[0], img.shape[1])
            imgs.append(self.warp_image(img, params))
            augs.append(self.view_matrix(params))
        results.setdefault('ori_shape', results['img'][0].shape[:2])
        results['img'] = imgs
        results['img_shape'] = self.final_dim
        results['pad_shape'] = self.final_dim
        apply_img_aug(results, augs)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(final_dim={self.final_dim}, '
                f'resize_lim={self.resize_lim}, bot_pct_lim={self.bot_pct_lim}, '
                f'rot_lim={self.rot_lim}, rand_flip={self.rand_flip}, '
                f'is_train={self.is_train}, interpolation={self.interpolation!r})')
