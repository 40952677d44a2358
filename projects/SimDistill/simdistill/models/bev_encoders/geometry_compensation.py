"""Geometry compensation of the simulated-LiDAR BEV map (SimDistill, Sec. 3.2).

Why it exists: the student's simulated-LiDAR BEV is lifted from images by LSS, so every feature
lies along its camera ray at a *predicted* depth. Depth errors smear an object's evidence along
the ray and leave it offset from where the teacher's LiDAR BEV has it. The cross-modal loss asks
this map to look like the teacher's LiDAR BEV; a module that lets each BEV cell gather features
from learned offsets around itself can move the smeared evidence back to the object's true cells
(a geometry the image lift cannot recover on its own), instead of forcing the depth net alone to.
"""
from typing import Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from mmdet.models.layers import LearnedPositionalEncoding
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .deformable_attention import CPUKernelDeformableAttention


def bev_reference_points(ny: int, nx: int, device: torch.device,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised centres of a ``(ny, nx)`` BEV map's cells in row-major order.

    Returns:
        Tensor: ``(ny * nx, 2)`` as ``(x, y)`` in ``[0, 1]`` (the convention of mmcv's
        deformable attention: ``(0, 0)`` is the map's corner, ``(1, 1)`` the opposite one).
    """
    ys = (torch.arange(ny, device=device, dtype=dtype) + 0.5) / ny
    xs = (torch.arange(nx, device=device, dtype=dtype) + 0.5) / nx
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack((grid_x, grid_y), dim=-1).reshape(-1, 2)


@MODELS.register_module()
class DeformableGeometryCompensation(BaseModule):
    """``out = x + DeformableAttn(x)`` over one BEV map (the paper's GCM).

    Every cell is a query with its own centre as reference point; each of ``num_heads`` heads
    samples ``num_points`` learned offsets around it (bilinearly, on the same map) and sums them
    with learned weights. The query is the cell's feature plus a learned absolute position
    embedding of the cell (as the authors' release has it): a depth error smears evidence along
    the camera ray, whose direction depends on where the cell lies relative to the ego, so the
    offsets that undo it must be able to depend on that position; the values sampled carry no
    position. Built on mmcv's ``MultiScaleDeformableAttention`` with one level (its CUDA kernel
    on GPU; on CPU the compiled kernel of ``simdistill.ops.deformable_attention``, see
    :class:`CPUKernelDeformableAttention`); the attention adds the residual itself.

    Args:
        embed_dims: channels ``C`` of the BEV map (d_model; 80 at paper size).
        num_heads: attention heads (8 in the paper); must divide ``embed_dims``.
        num_points: sampling points per head (20 in the paper).
        dropout: dropout on the attention output before the residual (0: exactly
            ``x + attn(x)``).
        im2col_step: mmcv's CUDA kernel chunk size.
        position_embedding: add a learned absolute position embedding of the cell to the
            query (mmdet's ``LearnedPositionalEncoding``: ``C / 2`` channels from the column,
            ``C / 2`` from the row); False builds the module without one (as checkpoints from
            before it).
        bev_shape: ``(ny, nx)`` of the BEV map, the size of the position tables; a
            ``SimDistillStudent`` sets it from its view transform.
        init_cfg: mmengine init config (mmcv's own init of the attention when None).

    Shapes:
        ``(B, C, ny, nx)`` -> ``(B, C, ny, nx)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 num_points: int = 20,
                 dropout: float = 0.0,
                 im2col_step: int = 64,
                 position_embedding: bool = False,
                 bev_shape: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}')
        if position_embedding and (bev_shape is None or len(bev_shape) != 2 or embed_dims % 2):
            raise ValueError(f'the position embedding needs bev_shape (ny, nx) and an even '
                             f'embed_dims, got bev_shape={bev_shape}, embed_dims={embed_dims}')
        self.embed_dims = embed_dims
        self.bev_shape = tuple(bev_shape) if position_embedding else None
        self.position = (LearnedPositionalEncoding(embed_dims // 2, row_num_embed=bev_shape[0],
                                                   col_num_embed=bev_shape[1])
                         if position_embedding else None)
        self.attention = CPUKernelDeformableAttention(
            embed_dims=embed_dims,
            num_heads=num_heads,
            num_levels=1,
            num_points=num_points,
            im2col_step=im2col_step,
            dropout=dropout,
            batch_first=True)

    def init_weights(self) -> None:
        super().init_weights()
        self.attention.init_weights()  # the ring of initial offsets, uniform weights

    def position_embedding(self, bev: Tensor) -> Optional[Tensor]:
        """``(B, ny * nx, C)`` learned embedding of each cell's (row, column), or None."""
        if self.position is None:
            return None
        B, _, ny, nx = bev.shape
        if (ny, nx) != self.bev_shape:
            raise ValueError(f'{type(self).__name__} was built for a {self.bev_shape} (ny, nx) BEV '
                             f'map (bev_shape), got {(ny, nx)}')
        pos = self.position(bev.new_zeros((1, ny, nx), dtype=torch.bool))  # (1, C, ny, nx)
        return pos.to(bev.dtype).flatten(2).transpose(1, 2).expand(B, -1, -1)

    def forward(self, bev: Tensor) -> Tensor:
        if bev.dim() != 4 or bev.shape[1] != self.embed_dims:
            raise ValueError(f'{type(self).__name__} expects a BEV map (B, {self.embed_dims}, ny, '
                             f'nx), got {tuple(bev.shape)}')
        B, C, ny, nx = bev.shape
        tokens = bev.flatten(2).transpose(1, 2)  # (B, ny * nx, C)
        reference = bev_reference_points(ny, nx, bev.device, bev.dtype)
        reference = reference[None, :, None].expand(B, -1, 1, -1)  # (B, ny * nx, 1 level, 2)
        out = self.attention(
            query=tokens,
            value=tokens,
            query_pos=self.position_embedding(bev),
            reference_points=reference,
            spatial_shapes=torch.tensor([[ny, nx]], device=bev.device),
            level_start_index=torch.zeros(1, dtype=torch.long, device=bev.device))
        return out.transpose(1, 2).reshape(B, C, ny, nx)


@MODELS.register_module()
class ConvGeometryCompensation(BaseModule):
    """``out = x + convs(x)``: the conv variant of the GCM (plain or deformable convs).

    Args:
        channels: channels ``C`` of the BEV map.
        num_convs: 3x3 conv + BN + ReLU layers in the residual branch (the last without ReLU).
        deformable: use mmcv's modulated deformable conv (DCNv2) instead of plain convs.
        init_cfg: mmengine init config.

    Shapes:
        ``(B, C, ny, nx)`` -> ``(B, C, ny, nx)``.
    """

    def __init__(self,
                 channels: int,
                 num_convs: int = 2,
                 deformable: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        conv_cfg = dict(type='DCNv2') if deformable else None
        self.channels = channels
        self.convs = torch.nn.Sequential(*[
            ConvModule(channels, channels, 3, padding=1, bias=False, conv_cfg=conv_cfg,
                       norm_cfg=dict(type='BN'),
                       act_cfg=dict(type='ReLU') if i < num_convs - 1 else None)
            for i in range(num_convs)
        ])

    def forward(self, bev: Tensor) -> Tensor:
        if bev.dim() != 4 or bev.shape[1] != self.channels:
            raise ValueError(f'{type(self).__name__} expects a BEV map (B, {self.channels}, ny, '
                             f'nx), got {tuple(bev.shape)}')
        return bev + self.convs(bev)
