"""The BEV grid, in one place: every module that needs to know which metric square a BEV cell
covers, or how large a BEV map is, asks this module.

- :class:`BEVGrid`: the metric volume the BEV pool op fills (bounds and cell sizes in metres,
  how a point's cell index is rounded). The op, the LSS view transform and the export use it.
- :class:`HeadGrid`: the cells of a 2-D BEV map: a dense head's heatmap (read from its
  CenterHead-style ``train_cfg``/``test_cfg``) or a view transform's output
  (:meth:`BEVGrid.map_grid`). The heads, their targets and the distiller's mask use it.
- :func:`check_bev_grids` and the ``*_shape`` helpers: the ``(ny, nx)`` of each BEV map of a
  detector config, derived from the configs alone, so a mismatch fails before any weight is
  built.

Maps follow mmdet3d's convention for CenterHead heatmaps: a map is ``(..., ny, nx)``, rows are
y and columns are x, and the flattened index of cell ``(row=y, col=x)`` is ``y * nx + x``.
Continuous *cell coordinates* ``(u, v)`` measure x and y in cells from the map's corner, so cell
``(x, y)`` spans ``[x, x + 1) x [y, y + 1)`` and its centre is ``(x + 0.5, y + 0.5)``.

This module sits below ``ops`` and ``models`` and imports neither.
"""
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor

from ..errors import ConfigMismatchError

Bound = Tuple[float, float, float]
Shape = Tuple[int, int]


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

    def map_grid(self, downsample: int = 1) -> 'HeadGrid':
        """The 2-D grid of the pooled map after a stride-``downsample`` conv stack.

        Returns:
            HeadGrid: ``(ny, nx)`` = the pooled ``(Y, X)`` floor-divided by ``downsample``,
            cells ``downsample`` times the pooling cell, the same lower corner.
        """
        _, ny, nx = self.shape
        return HeadGrid(x_min=self.xbound[0], y_min=self.ybound[0],
                        cell_x=self.xbound[2] * downsample, cell_y=self.ybound[2] * downsample,
                        nx=nx // downsample, ny=ny // downsample)


@dataclass(frozen=True)
class HeadGrid:
    """The cells of a 2-D BEV map (a head's heatmap, a view transform's output): a regular grid.

    Attributes:
        x_min (float): x of the grid's lower edge, metres.
        y_min (float): y of the grid's lower edge, metres.
        cell_x (float): cell size along x, metres (``voxel_size[0] * out_size_factor``).
        cell_y (float): cell size along y, metres.
        nx (int): number of columns (cells along x).
        ny (int): number of rows (cells along y).
    """
    x_min: float
    y_min: float
    cell_x: float
    cell_y: float
    nx: int
    ny: int

    @classmethod
    def from_cfg(cls, cfg: Mapping) -> 'HeadGrid':
        """Builds the grid from a CenterHead-style ``train_cfg``/``test_cfg``.

        Reads ``voxel_size`` (metres, at least x and y), ``out_size_factor`` and the range as
        ``point_cloud_range`` ``[x_min, y_min, z_min, x_max, y_max, z_max]`` (or ``pc_range``,
        whose first two values are ``x_min, y_min``). The cell counts come from ``grid_size``
        (voxels, at least x and y) ``// out_size_factor``; without ``grid_size`` they come from
        a 6-value range. When both are given they must agree.

        Raises:
            KeyError: a needed key is missing.
            ValueError: the keys disagree or give an empty grid.
        """
        for key in ('voxel_size', 'out_size_factor'):
            if key not in cfg:
                raise KeyError(f'BEV grid config needs {key!r}; got keys {sorted(cfg)}')
        pc_range = cfg.get('point_cloud_range', cfg.get('pc_range'))
        if pc_range is None:
            raise KeyError('BEV grid config needs point_cloud_range (or pc_range); got keys '
                           f'{sorted(cfg)}')
        voxel_x, voxel_y = float(cfg['voxel_size'][0]), float(cfg['voxel_size'][1])
        factor = int(cfg['out_size_factor'])
        full_range = len(pc_range) >= 6
        grid_size = cfg.get('grid_size')
        if grid_size is not None:
            if grid_size[0] % factor or grid_size[1] % factor:
                raise ValueError(f'grid_size {list(grid_size)} is not divisible by '
                                 f'out_size_factor={factor}')
            nx, ny = int(grid_size[0]) // factor, int(grid_size[1]) // factor
            if full_range:
                for axis, n, voxel, lo, hi in (('x', grid_size[0], voxel_x, 0, 3),
                                               ('y', grid_size[1], voxel_y, 1, 4)):
                    extent = pc_range[hi] - pc_range[lo]
                    if abs(n * voxel - extent) > 1e-3 * voxel:
                        raise ValueError(
                            f'grid_size[{axis}]={n} voxels of {voxel} m cover {n * voxel:g} m '
                            f'but point_cloud_range spans {extent:g} m along {axis}')
        elif full_range:
            nx = round((pc_range[3] - pc_range[0]) / voxel_x) // factor
            ny = round((pc_range[4] - pc_range[1]) / voxel_y) // factor
        else:
            raise KeyError('BEV grid config needs grid_size or a 6-value point_cloud_range')
        if nx <= 0 or ny <= 0:
            raise ValueError(f'empty BEV grid: nx={nx}, ny={ny}')
        return cls(
            float(pc_range[0]), float(pc_range[1]), voxel_x * factor, voxel_y * factor, nx, ny)

    def check_cfg(self, cfg: Mapping, name: str = 'cfg') -> None:
        """Checks the grid keys a (possibly partial) config has against this grid.

        A CenterHead ``test_cfg`` often holds only ``voxel_size``, ``out_size_factor`` and a
        2-value ``pc_range``; those must agree with the grid even though they do not define it.

        Raises:
            ValueError: a key disagrees, naming both values.
        """
        if 'voxel_size' in cfg and 'out_size_factor' in cfg:
            cell = [float(v) * int(cfg['out_size_factor']) for v in cfg['voxel_size'][:2]]
            if not _close(cell, [self.cell_x, self.cell_y]):
                raise ValueError(f'{name}: voxel_size x out_size_factor gives {cell} m cells but '
                                 f'the grid has {[self.cell_x, self.cell_y]}')
        pc_range = cfg.get('point_cloud_range', cfg.get('pc_range'))
        if pc_range is not None and not _close(pc_range[:2], [self.x_min, self.y_min]):
            raise ValueError(f'{name}: the range starts at {list(pc_range[:2])} but the grid at '
                             f'{[self.x_min, self.y_min]}')

    @property
    def shape(self) -> Tuple[int, int]:
        """``(ny, nx)``: the ``(H, W)`` of a map on this grid."""
        return self.ny, self.nx

    @property
    def bev_range(self) -> Tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in metres."""
        return (self.x_min, self.y_min, self.x_min + self.nx * self.cell_x,
                self.y_min + self.ny * self.cell_y)

    def metric_to_cell(self, xy: Tensor) -> Tensor:
        """Metric ``(x, y)`` (metres, shape ``(..., 2)``) to cell coordinates ``(..., 2)``."""
        origin = xy.new_tensor([self.x_min, self.y_min])
        return (xy - origin) / xy.new_tensor([self.cell_x, self.cell_y])

    def cell_to_metric(self, uv: Tensor) -> Tensor:
        """Cell coordinates ``(..., 2)`` to metric ``(x, y)`` (metres, ``(..., 2)``)."""
        origin = uv.new_tensor([self.x_min, self.y_min])
        return uv * uv.new_tensor([self.cell_x, self.cell_y]) + origin

    def cell_centers(self,
                     device: Optional[torch.device] = None,
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """Centres of all cells in flattened order ``y * nx + x``.

        Returns:
            Tensor: ``(ny * nx, 2)`` cell coordinates ``(x + 0.5, y + 0.5)``.
        """
        ys, xs = torch.meshgrid(
            torch.arange(self.ny, device=device, dtype=dtype),
            torch.arange(self.nx, device=device, dtype=dtype),
            indexing='ij')
        return torch.stack((xs, ys), dim=-1).reshape(-1, 2) + 0.5


def _close(a, b, tol: float = 1e-6) -> bool:
    return all(abs(float(x) - float(y)) <= tol * max(1.0, abs(float(y))) for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------
# build-time checks: every BEV map of a detector config lies on one grid
# ---------------------------------------------------------------------------------------------
def camera_bev_shape(cfg: dict) -> Shape:
    """``(ny, nx)`` of a view transform's output: pooling grid / ``downsample``."""
    grid = BEVGrid(cfg['xbound'], cfg['ybound'], cfg['zbound'])
    return grid.map_grid(cfg.get('downsample', 1)).shape


def lidar_bev_shape(cfg: dict) -> Optional[Shape]:
    """``(ny, nx)`` of a LiDAR middle encoder's output, or None for an unknown encoder."""
    if 'output_shape' in cfg:  # PointPillarsScatter: [ny, nx]
        return tuple(cfg['output_shape'])
    if 'sparse_shape' in cfg:  # SparseEncoder: [nz, ny, nx], stride 2 per stage after the first
        stages = len(cfg.get('encoder_channels', ((16, ), (32, 32, 32), (64, 64, 64),
                                                  (64, 64, 64))))
        stride = 2**(stages - 1)
        return cfg['sparse_shape'][1] // stride, cfg['sparse_shape'][2] // stride
    return None


def head_map_shape(cfg: dict) -> Optional[Shape]:
    """``(ny, nx)`` of a dense head's maps from its ``train_cfg`` grid and output stride."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'grid_size' not in train_cfg:
        return None
    grid = HeadGrid.from_cfg(train_cfg)
    return grid.ny, grid.nx


def check_bev_grids(view_transform: Optional[dict], pts_middle_encoder: Optional[dict],
                    pts_backbone: Optional[dict], pts_neck: Optional[dict],
                    bbox_head: Optional[dict]) -> Shape:
    """Raises ConfigMismatchError (a ``ValueError``) naming both shapes when two BEV maps of
    a config disagree.

    Returns:
        ``(ny, nx)`` of the fused BEV map.
    """
    shapes = {}
    if view_transform is not None:
        shapes['camera BEV (view_transform xbound/ybound/downsample)'] = \
            camera_bev_shape(view_transform)
    if pts_middle_encoder is not None:
        lidar = lidar_bev_shape(pts_middle_encoder)
        if lidar is not None:
            shapes['LiDAR BEV (pts_middle_encoder)'] = lidar
    (name, fused), *others = shapes.items()
    for other_name, other in others:
        if other != fused:
            raise ConfigMismatchError(f'BEV grids do not match: {name} is {fused} (ny, nx) but '
                                      f'{other_name} is {other}')
    if pts_backbone is not None and bbox_head is not None:
        stride = pts_backbone.get('layer_strides', [2])[0]
        up = (pts_neck or {}).get('upsample_strides', [1])[0]
        decoded = (int(fused[0] * up / stride), int(fused[1] * up / stride))
        head = head_map_shape(bbox_head)
        if head is not None and head != decoded:
            raise ConfigMismatchError(
                f'BEV grids do not match: the decoder outputs {decoded} (ny, nx) from the fused '
                f'BEV {fused} (layer_strides[0]={stride}, upsample_strides[0]={up}) but '
                f'bbox_head train_cfg grid_size/out_size_factor give {head}')
    return fused
