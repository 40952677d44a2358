"""Box coder of the TransFusion-style head: 3D boxes <-> per-query regression codes."""
from typing import Dict, Optional, Sequence

import torch
from mmdet.models.task_modules.coders.base_bbox_coder import BaseBBoxCoder
from mmdet3d.registry import TASK_UTILS
from torch import Tensor

from ...structures.bev_grid import HeadGrid

# (name, width) of the code's fields, in order; the head predicts one tensor per field.
CODE_FIELDS = (('center', 2), ('height', 1), ('dim', 3), ('rot', 2), ('vel', 2))
CODE_SIZE = sum(width for _, width in CODE_FIELDS)
# exp(10) m = 22 km: far beyond any object, small enough that an untrained head cannot
# overflow float32 (and turn the IoU match cost into NaN).
MAX_LOG_SIZE = 10.0


@TASK_UTILS.register_module()
class TransFusionBoxCoder(BaseBBoxCoder):
    """Encodes boxes relative to a query's BEV cell and decodes predictions back.

    A box ``(x, y, z, dx, dy, dz, yaw, vx, vy)`` -- LiDAR coordinates, **gravity centre**,
    metres, radians, m/s -- is encoded for a query at cell coordinates ``(u, v)`` (see
    :mod:`simdistill.structures.bev_grid`; a query sits at its cell's centre) as the 10 numbers

    ``(x_cell - u, y_cell - v, z, log dx, log dy, log dz, sin yaw, cos yaw, vx, vy)``

    where ``(x_cell, y_cell)`` is the box centre in cell coordinates, so the centre offset is in
    cells and everything else in metric units. Decoding inverts this exactly (yaw via
    ``atan2``; log-sizes are clamped at ``MAX_LOG_SIZE`` before ``exp``).

    Args:
        point_cloud_range (Sequence[float]): ``[x_min, y_min, z_min, x_max, y_max, z_max]``
            (or just ``[x_min, y_min]`` when ``grid_size`` is given), metres.
        voxel_size (Sequence[float]): voxel size, metres (x and y are used).
        out_size_factor (int): BEV cells per voxel along each axis.
        grid_size (Sequence[int], optional): voxels along x and y.
    """
    code_size = CODE_SIZE
    encode_size = CODE_SIZE

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 voxel_size: Sequence[float],
                 out_size_factor: int,
                 grid_size: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        cfg = dict(
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            out_size_factor=out_size_factor)
        if grid_size is not None:
            cfg['grid_size'] = grid_size
        self.grid = HeadGrid.from_cfg(cfg)

    def encode(self, bboxes: Tensor, query_pos: Tensor) -> Tensor:
        """Encodes gravity-centre boxes for the queries that regress them.

        Args:
            bboxes (Tensor): ``(..., 9)`` boxes ``(x, y, z, dx, dy, dz, yaw, vx, vy)``,
                gravity centre.
            query_pos (Tensor): ``(..., 2)`` query positions, cell coordinates.

        Returns:
            Tensor: ``(..., 10)`` codes (layout in the class docstring).
        """
        if bboxes.shape[-1] != 9:
            raise ValueError(f'expected boxes with 9 values (x, y, z, dx, dy, dz, yaw, vx, vy), '
                             f'got shape {tuple(bboxes.shape)}')
        offset = self.grid.metric_to_cell(bboxes[..., :2]) - query_pos
        log_size = bboxes[..., 3:6].clamp(min=torch.finfo(bboxes.dtype).tiny).log()
        yaw = bboxes[..., 6:7]
        return torch.cat(
            [offset, bboxes[..., 2:3], log_size,
             yaw.sin(), yaw.cos(), bboxes[..., 7:9]], dim=-1)

    def decode(self, codes: Tensor, query_pos: Tensor) -> Tensor:
        """Decodes codes predicted by queries at ``query_pos``.

        Args:
            codes (Tensor): ``(..., 10)`` codes.
            query_pos (Tensor): ``(..., 2)`` query positions, cell coordinates.

        Returns:
            Tensor: ``(..., 9)`` boxes ``(x, y, z, dx, dy, dz, yaw, vx, vy)``, gravity centre.
        """
        if codes.shape[-1] != CODE_SIZE:
            raise ValueError(f'expected codes with {CODE_SIZE} values, got shape '
                             f'{tuple(codes.shape)}')
        xy = self.grid.cell_to_metric(codes[..., :2] + query_pos)
        size = codes[..., 3:6].clamp(max=MAX_LOG_SIZE).exp()
        yaw = torch.atan2(codes[..., 6:7], codes[..., 7:8])
        return torch.cat([xy, codes[..., 2:3], size, yaw, codes[..., 8:10]], dim=-1)

    @staticmethod
    def join(preds: Dict[str, Tensor]) -> Tensor:
        """Concatenates the head's per-field predictions into codes.

        Args:
            preds (dict[str, Tensor]): ``center`` ``(..., 2)``, ``height`` ``(..., 1)``,
                ``dim`` ``(..., 3)``, ``rot`` ``(..., 2)``, ``vel`` ``(..., 2)``.

        Returns:
            Tensor: ``(..., 10)`` codes.
        """
        return torch.cat([preds[name] for name, _ in CODE_FIELDS], dim=-1)
