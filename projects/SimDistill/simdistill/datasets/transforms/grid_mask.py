"""GridMask (Chen et al., 2020) on the multi-view images of a sample."""
import math
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import TRANSFORMS

from .image_aug import check_pair


def make_grid_mask(height: int, width: int, period: int, stripe: int, offset_y: float,
                   offset_x: float, rot_deg: float, use_h: bool, use_w: bool) -> np.ndarray:
    """Boolean mask of a (rotated) grid of stripes.

    A pixel is masked when its centre, expressed in a frame rotated by ``rot_deg`` about the
    image centre, falls within ``stripe`` pixels after a multiple of ``period`` (plus the
    offset) along y (``use_h``: horizontal bands) or along x (``use_w``: vertical bands).

    Args:
        height (int): image height in pixels.
        width (int): image width in pixels.
        period (int): grid period in pixels.
        stripe (int): masked width of each band in pixels, ``0 < stripe < period``.
        offset_y (float): grid phase along y in pixels.
        offset_x (float): grid phase along x in pixels.
        rot_deg (float): grid rotation in degrees.
        use_h (bool): mask horizontal bands.
        use_w (bool): mask vertical bands.

    Returns:
        np.ndarray: (height, width) bool array, True where masked.
    """
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5 - height / 2
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5 - width / 2
    angle = math.radians(rot_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    mask = np.zeros((height, width), dtype=bool)
    if use_h:
        mask |= np.mod(-sin * xs + cos * ys - offset_y, period) < stripe
    if use_w:
        mask |= np.mod(cos * xs + sin * ys - offset_x, period) < stripe
    return mask


@TRANSFORMS.register_module()
class MultiViewGridMask(BaseTransform):
    """Blank a grid of stripes in each camera view (GridMask data augmentation).

    With probability ``prob`` per sample, draw a grid period ``d`` (integer pixels, uniform in
    ``period_lim``, by default ``[2, min(H, W))``), a band width
    ``l = clip(round(ratio * d), 1, d - 1)``, random phases in ``[0, d)`` and an angle in
    ``rot_lim``; then set the pixels of the bands (``mode='drop'``) or of everything but the
    bands (``mode='keep'``) to ``fill``. The geometry keys are untouched: no pixel moves. Use
    it after :class:`MultiViewImageAug3D`, on the final images.

    Required keys: ``img`` (list of N HxWxC arrays). Modified keys: ``img`` (same shapes and
    dtype). Added keys: ``grid_mask_applied`` (bool).

    Args:
        prob (float): probability of masking a sample, in [0, 1]. Defaults to 0.7.
        use_h (bool): mask horizontal bands. Defaults to True.
        use_w (bool): mask vertical bands. Defaults to True.
        ratio (float): fraction of each period that is masked, in (0, 1). Defaults to 0.5.
        period_lim (Sequence[int], optional): ``(low, high)`` grid period range in pixels,
            high exclusive; None means ``(2, min(H, W))``. Defaults to None.
        rot_lim (Sequence[float]): grid rotation range in degrees. Defaults to ``(0, 0)``.
        mode (str): ``'drop'`` blanks the bands, ``'keep'`` blanks all but the bands.
            Defaults to ``'drop'``.
        per_view (bool): draw a separate grid for every view instead of one shared grid.
            Defaults to True.
        fill (int | float): value written into blanked pixels. Defaults to 0.
    """

    def __init__(self,
                 prob: float = 0.7,
                 use_h: bool = True,
                 use_w: bool = True,
                 ratio: float = 0.5,
                 period_lim: Optional[Sequence[int]] = None,
                 rot_lim: Sequence[float] = (0.0, 0.0),
                 mode: str = 'drop',
                 per_view: bool = True,
                 fill: float = 0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must lie in [0, 1], got {prob!r}')
        if not 0.0 < ratio < 1.0:
            raise ValueError(f'ratio must lie in (0, 1), got {ratio!r}')
        if not (use_h or use_w):
            raise ValueError('at least one of use_h and use_w must be True')
        if mode not in ('drop', 'keep'):
            raise ValueError(f"mode must be 'drop' or 'keep', got {mode!r}")
        if period_lim is not None:
            low, high = check_pair(period_lim, 'period_lim')
            if low < 2 or low != int(low) or high != int(high) or high <= low:
                raise ValueError(
                    f'period_lim must be integers with 2 <= low < high, got {period_lim!r}')
            period_lim = (int(low), int(high))
        self.prob = float(prob)
        self.use_h = bool(use_h)
        self.use_w = bool(use_w)
        self.ratio = float(ratio)
        self.period_lim = period_lim
        self.rot_lim = check_pair(rot_lim, 'rot_lim')
        self.mode = mode
        self.per_view = bool(per_view)
        self.fill = fill

    def sample_mask(self, height: int, width: int) -> np.ndarray:
        """Draw one (height, width) boolean mask, True where pixels are blanked."""
        low, high = self.period_lim or (2, min(height, width))
        if high <= low:
            raise ValueError(f'grid period range [{low}, {high}) is empty for a '
                             f'{height}x{width} image; set period_lim')
        period = int(np.random.randint(low, high))
        stripe = min(max(int(round(self.ratio * period)), 1), period - 1)
        offset_y, offset_x = np.random.uniform(0, period, size=2)
        rot_deg = np.random.uniform(*self.rot_lim)
        mask = make_grid_mask(height, width, period, stripe, offset_y, offset_x, rot_deg,
                              self.use_h, self.use_w)
        return mask if self.mode == 'drop' else ~mask

    def transform(self, results: dict) -> dict:
        """Mask the images of ``results`` (or leave them, with probability ``1 - prob``).

        Args:
            results (dict): the results dict.

        Returns:
            dict: the updated results.
        """
        imgs = results.get('img')
        if not isinstance(imgs, (list, tuple)) or len(imgs) == 0:
            raise ValueError("results['img'] must be a non-empty list of HxWxC images")
        apply = np.random.rand() < self.prob
        results['grid_mask_applied'] = bool(apply)
        if not apply:
            return results
        shared = None
        out = []
        for img in imgs:
            if self.per_view or shared is None or shared.shape != img.shape[:2]:
                shared = self.sample_mask(img.shape[0], img.shape[1])
            img = img.copy()
            img[shared] = self.fill
            out.append(img)
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, use_h={self.use_h}, '
                f'use_w={self.use_w}, ratio={self.ratio}, period_lim={self.period_lim}, '
                f'rot_lim={self.rot_lim}, mode={self.mode!r}, per_view={self.per_view}, '
                f'fill={self.fill})')
