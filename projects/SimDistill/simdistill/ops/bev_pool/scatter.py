"""The BEV pool in gather + scatter-add form: the implementation an ONNX graph can hold.

Stock ONNX has no interval-sum operator, but the pool is a gather of the plan's depth and
context entries followed by a scatter-add into the BEV cells (``Gather`` and
``ScatterElements(reduction='add')``), which every runtime has. It materialises the ``(P, C)``
frustum values, so in PyTorch it is slower than the fused kernel; it exists for export.
"""
from typing import Sequence

import torch
from torch import Tensor

from ..onnx_custom_ops import DOMAIN
from .checks import check_depth_context
from .plan import BEVPoolPlan, check_plan


def scatter_pool_indices(depth: Tensor, context: Tensor, ranks_depth: Tensor,
                         ranks_feat: Tensor, ranks_bev: Tensor,
                         bev_shape: Sequence[int]) -> Tensor:
    """Sums ``depth x context`` per BEV cell, given the plan's index tensors.

    Args:
        depth: ``(B, N, D, H, W)`` depth probabilities.
        context: ``(B, N, C, H, W)`` context features.
        ranks_depth: ``(P,)`` integer index of each point into ``depth.flatten()``.
        ranks_feat: ``(P,)`` integer index of each point into the context rows ``(B, N, H, W)``.
        ranks_bev: ``(P,)`` integer global cell ``b * Z * Y * X + (z * Y + y) * X + x``.
        bev_shape: ``(Z, Y, X)`` cells of the grid.

    Returns:
        ``(B, C, Z, Y, X)`` BEV feature, as :func:`~.api.bev_pool`.
    """
    nz, ny, nx = (int(v) for v in bev_shape)
    out = pool_rows(depth, context_rows(context), ranks_depth, ranks_feat, ranks_bev,
                    nz * ny * nx)
    return out.view(-1, nz, ny, nx, context.shape[2]).permute(0, 4, 1, 2, 3)


def context_rows(context: Tensor) -> Tensor:
    """``(B, N, C, H, W)`` context -> ``(B * N * H * W, C)`` rows, the order ``ranks_feat``
    indexes."""
    return context.permute(0, 1, 3, 4, 2).reshape(-1, context.shape[2])


def pool_rows(depth: Tensor, rows: Tensor, ranks_depth: Tensor, ranks_feat: Tensor,
              ranks_bev: Tensor, cells: int) -> Tensor:
    """``(B * cells, C)``: per global cell the sum of ``depth[ranks_depth] * rows[ranks_feat]``
    (``rows`` ``(B * N * H * W, C)``: the context channels-last)."""
    channels = rows.shape[1]
    values = rows[ranks_feat] * depth.reshape(-1)[ranks_depth].unsqueeze(1)  # (P, C)
    out = rows.new_zeros((depth.shape[0] * cells, channels))
    return out.scatter_add(0, ranks_bev.unsqueeze(1).expand(-1, channels), values)


def scatter_pool(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> Tensor:
    """:func:`scatter_pool_indices` with a plan; arguments and result as :func:`bev_pool`."""
    check_depth_context(depth, context)
    check_plan(plan, depth)
    return scatter_pool_indices(depth, context, plan.ranks_depth.long(), plan.ranks_feat.long(),
                                plan.ranks_bev.long(), plan.bev_shape)


class BEVPoolNode(torch.autograd.Function):
    """``simdistill::BEVPool``; the eager value (what tracing sees) is the gather/scatter form.

    Returns:
        ``(B, C, cells)``.
    """

    @staticmethod
    def forward(ctx, depth: Tensor, context_rows: Tensor, ranks_depth: Tensor,
                ranks_feat: Tensor, ranks_bev: Tensor, cells: int) -> Tensor:
        out = pool_rows(depth, context_rows, ranks_depth, ranks_feat, ranks_bev, cells)
        return out.view(depth.shape[0], cells, -1).transpose(1, 2)

    @staticmethod
    def symbolic(g, depth, context_rows, ranks_depth, ranks_feat, ranks_bev, cells: int):
        out = g.op(f'{DOMAIN}::BEVPool', depth, context_rows, ranks_depth, ranks_feat,
                   ranks_bev, cells_i=int(cells))
        out.setType(context_rows.type().with_sizes([None, None, int(cells)]))  # (B, C, cells)
        return out
