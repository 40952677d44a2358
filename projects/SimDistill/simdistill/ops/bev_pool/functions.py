"""Autograd functions of the two pooling operators, generic over the backend."""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from .backends import Backend
from .plan import BEVPoolPlan


class FusedBEVPool(torch.autograd.Function):
    """``out[b, :, cell] = sum over points p in cell of depth[rd[p]] * feat[rf[p], :]``.

    Never materialises the frustum. Inputs: flattened depth ``(B*N*D*H*W,)`` and channels-last
    context ``(B*N*H*W, C)``, both contiguous; output ``(B, C, Z*Y*X)``. Backward gives
    ``grad_depth[rd[p]] = <grad_out[cell(p)], feat[rf[p]]>`` (0 for dropped points) and
    ``grad_feat[f] = sum over p with rf[p] = f of depth[rd[p]] * grad_out[cell(p)]``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, depth: Tensor, feat: Tensor, plan: BEVPoolPlan,
                backend: Backend) -> Tensor:
        out = depth.new_empty((plan.depth_shape[0], feat.shape[1], plan.cells_per_sample))
        backend.fused_forward(depth, feat, plan, out)
        ctx.save_for_backward(depth, feat)
        ctx.plan, ctx.backend = plan, backend
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx,
                 grad_out: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor], None, None]:
        depth, feat = ctx.saved_tensors
        plan = ctx.plan
        grad_out = grad_out.to(depth.dtype).contiguous()
        need_depth, need_feat = ctx.needs_input_grad[:2]
        grad_depth = grad_feat = grad_cells = None
        if need_feat:  # grad_out at each non-empty cell, (I, C)
            grad_cells = grad_out.new_empty((plan.num_intervals, grad_out.shape[1]))
        if need_depth:
            grad_depth = torch.zeros_like(depth)  # dropped points keep a zero gradient
            # also fills grad_cells while the tiles of grad_out are at hand
            ctx.backend.fused_backward_depth(grad_out, feat, plan, grad_depth, grad_cells)
        elif need_feat:
            cells = plan.interval_cells.long()
            grad_cells.copy_(grad_out[cells // grad_out.shape[2], :, cells % grad_out.shape[2]])
        if need_feat:
            grad_feat = torch.zeros_like(feat)  # rows no point reads keep a zero gradient
            ctx.backend.fused_backward_feat(grad_cells, depth, plan, grad_feat)
        return grad_depth, grad_feat, None, None


class IntervalBEVPool(torch.autograd.Function):
    """``out[b, :, cell] = sum over points p in cell of x[p, :]`` for a frustum ``x`` ``(P, C)``
    in plan order (BEVFusion-style); output ``(B, C, Z*Y*X)``; ``grad_x[p] = grad_out[cell(p)]``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, plan: BEVPoolPlan, backend: Backend) -> Tensor:
        out = x.new_empty((plan.depth_shape[0], x.shape[1], plan.cells_per_sample))
        backend.interval_forward(x, plan, out)
        ctx.plan, ctx.backend = plan, backend
        ctx.x_shape = x.shape
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor) -> Tuple[Optional[Tensor], None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        grad_out = grad_out.contiguous()
        grad_x = grad_out.new_empty(ctx.x_shape)  # every row is written
        ctx.backend.interval_backward(grad_out, ctx.plan, grad_x)
        return grad_x, None, None
