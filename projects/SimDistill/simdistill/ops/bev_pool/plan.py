"""Pool plans: which frustum point goes to which BEV cell, sorted by cell, as int32 indices."""
from dataclasses import InitVar, dataclass, field
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .checks import check_geom, shape_of
from ...structures.bev_grid import BEVGrid

_INT32_MAX = 2**31 - 1


@dataclass(eq=False)
class FeatGroups:
    """The plan's points regrouped by the feature row they read (for the context gradient).

    Group ``j`` covers points ``starts[j] : starts[j] + lengths[j]`` of this ordering, which
    all read feature row ``feats[j]``; rows no point reads have no group.

    Attributes:
        ranks_depth: ``(P,)`` int32, index into the flattened depth of each point.
        intervals: ``(P,)`` int32, the plan interval (non-empty cell) of each point.
        feats: ``(G,)`` int32, the feature row (``((b * N + n) * H + h) * W + w``) of each group.
        starts: ``(G,)`` int32, first point of each group.
        lengths: ``(G,)`` int32, number of points of each group (>= 1).
    """

    ranks_depth: Tensor
    intervals: Tensor
    feats: Tensor
    starts: Tensor
    lengths: Tensor


@dataclass(eq=False)
class BEVPoolPlan:
    """Frustum-to-BEV assignment of one geometry, sorted by BEV cell (BEVPoolv2-style).

    Only points inside the grid appear. Point ``i`` of the plan reads depth
    ``depth.flatten()[ranks_depth[i]]`` and the context at feature row ``ranks_feat[i]`` (rows of
    the channels-last context ``(B * N * H * W, C)``) and lands in global cell ``ranks_bev[i]``.
    Interval ``j`` is the run of points ``interval_starts[j] : + interval_lengths[j]`` sharing
    cell ``interval_cells[j]``; cells are strictly increasing.

    Attributes:
        ranks_depth: ``(P,)`` int32, index into ``depth.flatten()`` (``(B, N, D, H, W)``).
        ranks_feat: ``(P,)`` int32, index into the context rows ``(B, N, H, W)``.
        ranks_bev: ``(P,)`` int32, global cell ``b * Z * Y * X + (z * Y + y) * X + x``, sorted.
        interval_starts: ``(I,)`` int32.
        interval_lengths: ``(I,)`` int32, all >= 1, summing to ``P``.
        interval_cells: ``(I,)`` int32, ``ranks_bev[interval_starts]``.
        depth_shape: ``(B, N, D, H, W)`` of the depth this plan was built for.
        bev_shape: ``(Z, Y, X)`` cell counts of the grid.
        check_values: validate index ranges and ordering on construction (one pass over the
            indices; plans from :func:`build_plan` are correct by construction and skip it).
    """

    ranks_depth: Tensor
    ranks_feat: Tensor
    ranks_bev: Tensor
    interval_starts: Tensor
    interval_lengths: Tensor
    interval_cells: Tensor
    depth_shape: Tuple[int, int, int, int, int]
    bev_shape: Tuple[int, int, int]
    check_values: InitVar[bool] = True
    _feat_groups: Optional[FeatGroups] = field(default=None, init=False, repr=False)
    _tile_offsets: Dict[int, Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self, check_values: bool) -> None:
        self.depth_shape = tuple(int(v) for v in self.depth_shape)
        self.bev_shape = tuple(int(v) for v in self.bev_shape)
        if len(self.depth_shape) != 5 or len(self.bev_shape) != 3:
            raise ValueError(f'depth_shape must be (B, N, D, H, W) and bev_shape (Z, Y, X), got '
                             f'{self.depth_shape} and {self.bev_shape}')
        batch, cams, _, height, width = self.depth_shape
        limits = {
            'depth points': _numel(self.depth_shape),
            'feature rows': batch * cams * height * width,
            'BEV cells': batch * _numel(self.bev_shape),
        }
        for name, count in limits.items():
            if count > _INT32_MAX:
                raise ValueError(f'{name} ({count}) overflow the int32 plan indices')
        device = self.ranks_depth.device
        names = ('ranks_depth', 'ranks_feat', 'ranks_bev', 'interval_starts',
                 'interval_lengths', 'interval_cells')
        for name in names:
            t = getattr(self, name)
            if not isinstance(t, Tensor) or t.dtype != torch.int32 or t.dim() != 1:
                raise TypeError(f'plan.{name} must be a 1-D int32 tensor, got '
                                f'{_describe(t)}')
            if t.device != device:
                raise ValueError(f'plan.{name} is on {t.device}, ranks_depth on {device}')
            setattr(self, name, t.contiguous())
        num_points = self.ranks_depth.numel()
        for name in ('ranks_feat', 'ranks_bev'):
            if getattr(self, name).numel() != num_points:
                raise ValueError(f'plan.{name} has {getattr(self, name).numel()} points, '
                                 f'ranks_depth has {num_points}')
        num_intervals = self.interval_starts.numel()
        for name in ('interval_lengths', 'interval_cells'):
            if getattr(self, name).numel() != num_intervals:
                raise ValueError(f'plan.{name} has {getattr(self, name).numel()} intervals, '
                                 f'interval_starts has {num_intervals}')
        if check_values:
            self._check_values(limits)

    def _check_values(self, limits: dict) -> None:
        bounds = zip(('ranks_depth', 'ranks_feat', 'ranks_bev', 'interval_cells'),
                     list(limits.values()) + [limits['BEV cells']])
        for name, limit in bounds:
            t = getattr(self, name)
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= limit):
                raise ValueError(f'plan.{name} has values outside [0, {limit})')
        starts, lengths = self.interval_starts.long(), self.interval_lengths.long()
        expected_starts = torch.cumsum(lengths, 0) - lengths
        if (lengths.numel() and int(lengths.min()) < 1) or not torch.equal(
                starts, expected_starts) or int(lengths.sum()) != self.num_points:
            raise ValueError('plan intervals must be consecutive non-empty runs covering all '
                             f'{self.num_points} points')
        cells = self.interval_cells.long()
        if cells.numel() > 1 and int((cells[1:] - cells[:-1]).min()) <= 0:
            raise ValueError('plan.interval_cells must be strictly increasing')
        if not torch.equal(torch.repeat_interleave(cells, lengths), self.ranks_bev.long()):
            raise ValueError('plan.ranks_bev does not match the intervals')

    @property
    def num_points(self) -> int:
        """Number ``P`` of frustum points inside the grid."""
        return self.ranks_depth.numel()

    @property
    def num_intervals(self) -> int:
        """Number ``I`` of non-empty BEV cells."""
        return self.interval_starts.numel()

    @property
    def device(self) -> torch.device:
        return self.ranks_depth.device

    @property
    def cells_per_sample(self) -> int:
        """``K = Z * Y * X``."""
        return _numel(self.bev_shape)

    def output_shape(self, channels: int) -> Tuple[int, int, int, int, int]:
        """Shape ``(B, C, Z, Y, X)`` of the pooled feature for ``channels`` context channels."""
        return (self.depth_shape[0], channels) + self.bev_shape

    def tile_offsets(self, tile_cells: int) -> Tensor:
        """First interval of every tile of ``tile_cells`` consecutive cells of one sample.

        The kernels split each sample's ``K`` cells into ``ceil(K / tile_cells)`` tiles (the
        last one possibly shorter). Built on first use per tile size and kept with the plan.

        Returns:
            ``(B * ceil(K / tile_cells) + 1,)`` int32; the last entry is ``I``.
        """
        if tile_cells not in self._tile_offsets:
            batch, cells = self.depth_shape[0], self.cells_per_sample
            firsts = torch.arange(0, cells, tile_cells, device=self.device)
            bounds = (torch.arange(batch, device=self.device)[:, None] * cells + firsts).flatten()
            bounds = torch.cat([bounds, bounds.new_tensor([batch * cells])]).int()
            self._tile_offsets[tile_cells] = torch.searchsorted(self.interval_cells, bounds,
                                                                out_int32=True)
        return self._tile_offsets[tile_cells]

    def feat_groups(self) -> FeatGroups:
        """The points grouped by feature row, built on first use and kept with the plan."""
        if self._feat_groups is None:
            order = torch.sort(self.ranks_feat, stable=True).indices
            feats, counts = torch.unique_consecutive(self.ranks_feat[order], return_counts=True)
            intervals = torch.repeat_interleave(
                torch.arange(self.num_intervals, dtype=torch.int32, device=self.device),
                self.interval_lengths.long())
            self._feat_groups = FeatGroups(
                ranks_depth=self.ranks_depth[order],
                intervals=intervals[order],
                feats=feats.int(),
                starts=(torch.cumsum(counts, 0) - counts).int(),
                lengths=counts.int(),
            )
        return self._feat_groups


def build_plan(geom: Tensor, grid: BEVGrid) -> BEVPoolPlan:
    """Assigns every frustum point to its BEV cell and sorts the points by cell.

    Args:
        geom: ``(B, N, D, H, W, 3)`` frustum point coordinates ``(x, y, z)`` in metres in the
            LiDAR/ego frame; cell indices are computed in ``geom``'s dtype.
        grid: the BEV grid. Points outside it (or with non-finite coordinates) are dropped.

    Returns:
        The plan; its index tensors live on ``geom``'s device.
    """
    check_geom(geom)
    if not isinstance(grid, BEVGrid):
        raise TypeError(f'grid must be a BEVGrid, got {type(grid).__name__}')
    batch, cams, depth_bins, height, width, _ = geom.shape
    nz, ny, nx = grid.shape
    if batch * nz * ny * nx > _INT32_MAX or geom[..., 0].numel() > _INT32_MAX:
        raise ValueError(f'{tuple(geom.shape[:5])} frustum points or {batch} x {grid.shape} BEV '
                         'cells overflow the int32 plan indices')
    lower = torch.tensor(grid.lower, dtype=geom.dtype, device=geom.device)
    size = torch.tensor(grid.cell_size, dtype=geom.dtype, device=geom.device)
    counts = torch.tensor((nx, ny, nz), dtype=geom.dtype, device=geom.device)
    # Compare in floating point before any integer cast: huge or NaN coordinates must not wrap.
    index = (geom.detach().reshape(-1, 3) - lower) / size
    index = index.trunc_() if grid.index_rounding == 'trunc' else index.floor_()
    kept = ((index >= 0) & (index < counts)).all(dim=1)
    points = kept.nonzero().squeeze(1)
    ix, iy, iz = index[points].int().unbind(1)
    per_sample = cams * depth_bins * height * width
    pixels = height * width
    # int32 keys: sorting them is several times faster than int64 on CPU
    cell = (points // per_sample).int() * (nz * ny * nx) + (iz * ny + iy) * nx + ix
    feat = ((points // (depth_bins * pixels)) * pixels + points % pixels).int()
    cell, order = torch.sort(cell, stable=True)
    cells, lengths = torch.unique_consecutive(cell, return_counts=True)
    lengths = lengths.int()
    return BEVPoolPlan(
        ranks_depth=points.int()[order],
        ranks_feat=feat[order],
        ranks_bev=cell,
        interval_starts=torch.cumsum(lengths, 0, dtype=torch.int32) - lengths,
        interval_lengths=lengths,
        interval_cells=cells,
        depth_shape=(batch, cams, depth_bins, height, width),
        bev_shape=(nz, ny, nx),
        check_values=False,
    )


def _numel(shape: Tuple[int, ...]) -> int:
    out = 1
    for v in shape:
        out *= v
    return out


def _describe(t: object) -> str:
    if isinstance(t, Tensor):
        return f'{t.dtype} tensor of shape {tuple(t.shape)}'
    return type(t).__name__


def check_plan(plan: BEVPoolPlan, depth: Tensor) -> None:
    """Checks that ``plan`` was built for ``depth``'s shape and lives on its device."""
    if not isinstance(plan, BEVPoolPlan):
        raise TypeError(f'plan must be a BEVPoolPlan, got {type(plan).__name__}')
    if tuple(depth.shape) != plan.depth_shape:
        raise ValueError(f'plan was built for depth of shape {plan.depth_shape}, got depth '
                         f'{shape_of(depth)}')
    if plan.device != depth.device:
        raise ValueError(f'plan is on {plan.device}, depth on {depth.device}')
