"""Geometry of a dense head's BEV map: which metric square each cell covers.

Cells follow mmdet3d's convention for CenterHead heatmaps: a map is ``(..., ny, nx)``, rows are
y and columns are x, and the flattened index of cell ``(row=y, col=x)`` is ``y * nx + x``.
Continuous *cell coordinates* ``(u, v)`` measure x and y in cells from the map's corner, so cell
``(x, y)`` spans ``[x, x + 1) x [y, y + 1)`` and its centre is ``(x + 0.5, y + 0.5)``.
"""
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor


@dataclass(frozen=True)
class HeadGrid:
    """A regular BEV grid.

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
