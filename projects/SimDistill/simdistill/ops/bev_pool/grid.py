"""The BEV grid: bounds and cell sizes of the voxel grid the frustum is pooled into."""
import math
from dataclasses import dataclass
from typing import Tuple

Bound = Tuple[float, float, float]


def _cells(name: str, bound: Bound) -> int:
    if len(bound) != 3:
        raise ValueError(f'{name} must be (lower, upper, size) in metres, got {bound!r}')
    lower, upper, size = (float(v) for v in bound)
    if not all(math.isfinite(v) for v in (lower, upper, size)):
        raise ValueError(f'{name} must be finite, got {bound!r}')
    if size <= 0 or upper <= lower:
        raise ValueError(f'{name} needs size > 0 and upper > lower, got {bound!r}')
    ratio = (upper - lower) / size
    count = round(ratio)
    if count < 1 or abs(ratio - count) > 1e-6 * max(1.0, ratio):
        raise ValueError(
            f'{name}: (upper - lower) / size = {ratio:.9g} is not a whole number of cells, got '
            f'{bound!r}')
    return count


@dataclass(frozen=True)
class BEVGrid:
    """Bounds and cell sizes of the BEV voxel grid, in metres, in the LiDAR/ego frame.

    Each bound is ``(lower, upper, size)``; ``upper - lower`` must be a whole number of cells.
    A point ``p`` falls in cell ``floor((p - lower) / size)`` along each axis and is kept iff
    that index lies in ``[0, n)``, so points exactly on ``upper`` are dropped.

    Args:
        xbound: ``(lower, upper, size)`` along x (the output's columns).
        ybound: ``(lower, upper, size)`` along y (the output's rows).
        zbound: ``(lower, upper, size)`` along z (usually one cell).
        index_rounding: ``'floor'`` (above) or ``'trunc'``: the cell index is
            ``(p - lower) / size`` rounded toward zero, as BEVFusion's ``.long()`` cast does,
            so points up to one cell *below* ``lower`` also land in cell 0 (its published
            weights were trained so).
    """

    xbound: Bound = (-54.0, 54.0, 0.3)
    ybound: Bound = (-54.0, 54.0, 0.3)
    zbound: Bound = (-10.0, 10.0, 20.0)
    index_rounding: str = 'floor'

    def __post_init__(self) -> None:
        if self.index_rounding not in ('floor', 'trunc'):
            raise ValueError(f"index_rounding must be 'floor' or 'trunc', got "
                             f'{self.index_rounding!r}')
        for name in ('xbound', 'ybound', 'zbound'):
            bound = tuple(float(v) for v in getattr(self, name))
            _cells(name, bound)
            object.__setattr__(self, name, bound)

    @property
    def shape(self) -> Tuple[int, int, int]:
        """Cell counts ``(Z, Y, X)``: the spatial shape of the pooled BEV feature."""
        return (_cells('zbound', self.zbound), _cells('ybound', self.ybound),
                _cells('xbound', self.xbound))

    @property
    def lower(self) -> Tuple[float, float, float]:
        """Lower bounds ``(x, y, z)`` in metres."""
        return (self.xbound[0], self.ybound[0], self.zbound[0])

    @property
    def cell_size(self) -> Tuple[float, float, float]:
        """Cell sizes ``(x, y, z)`` in metres."""
        return (self.xbound[2], self.ybound[2], self.zbound[2])
