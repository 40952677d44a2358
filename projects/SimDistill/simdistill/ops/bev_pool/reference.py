"""Pure-PyTorch BEV pool: the fallback backend, and the materialise + ``index_add_`` baseline.

Works for every floating dtype and device. Points are processed in chunks so that no temporary
exceeds ``chunk_elements`` values, whatever the frustum size.
"""
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor

from .checks import check_depth_context
from .plan import BEVPoolPlan, check_plan


class TorchBackend:
    """The five BEV pool operators written with PyTorch gathers and ``index_add_``.

    Same contract as the compiled operators (see ``src/bev_pool.h``): ``depth`` is the
    flattened depth ``(B*N*D*H*W,)``, ``feat`` the channels-last context ``(B*N*H*W, C)``,
    ``x`` a frustum in plan order ``(P, C)``, BEV tensors are ``(B, C, Z*Y*X)`` and
    ``grad_cells`` ``(I, C)`` holds ``grad_out`` at the cell of each interval. Results are
    written into the last tensor argument; ``fused_backward_depth`` also fills ``grad_cells``
    when given, for ``fused_backward_feat``.
    """

    name = 'torch'

    def __init__(self, chunk_elements: int = 1 << 22) -> None:
        self.chunk_elements = chunk_elements

    def _chunks(self, plan: BEVPoolPlan, channels: int) -> Iterator[Tuple[Tensor, Tensor, Tensor,
                                                                         slice]]:
        step = max(1, self.chunk_elements // max(1, channels))
        for start in range(0, plan.num_points, step):
            sl = slice(start, start + step)
            yield plan.ranks_depth[sl], plan.ranks_feat[sl], plan.ranks_bev[sl], sl

    @staticmethod
    def _channels_last(bev: Tensor) -> Tensor:
        return bev.transpose(1, 2).reshape(-1, bev.shape[1])

    def fused_forward(self, depth: Tensor, feat: Tensor, plan: BEVPoolPlan, out: Tensor) -> None:
        batch, channels, cells = out.shape
        acc = out.new_zeros((batch * cells, channels))
        for rd, rf, rb, _ in self._chunks(plan, channels):
            rows = feat.index_select(0, rf).mul_(depth.index_select(0, rd).unsqueeze(1))
            acc.index_add_(0, rb, rows)
        out.copy_(acc.view(batch, cells, channels).transpose(1, 2))

    def fused_backward_depth(self,
                             grad_out: Tensor,
                             feat: Tensor,
                             plan: BEVPoolPlan,
                             grad_depth: Tensor,
                             grad_cells: Optional[Tensor] = None) -> None:
        grad_cl = self._channels_last(grad_out)
        if grad_cells is not None:
            torch.index_select(grad_cl, 0, plan.interval_cells, out=grad_cells)
        for rd, rf, rb, _ in self._chunks(plan, grad_out.shape[1]):
            dots = (grad_cl.index_select(0, rb) * feat.index_select(0, rf)).sum(1)
            grad_depth.index_copy_(0, rd.long(), dots)

    def fused_backward_feat(self, grad_cells: Tensor, depth: Tensor, plan: BEVPoolPlan,
                            grad_feat: Tensor) -> None:
        for rd, rf, _, sl in self._chunks(plan, grad_cells.shape[1]):
            points = torch.arange(sl.start, sl.start + rd.numel(), dtype=torch.int32,
                                  device=rd.device)
            intervals = torch.searchsorted(plan.interval_starts, points, right=True) - 1
            rows = grad_cells.index_select(0, intervals).mul_(
                depth.index_select(0, rd).unsqueeze(1))
            grad_feat.index_add_(0, rf, rows)

    def interval_forward(self, x: Tensor, plan: BEVPoolPlan, out: Tensor) -> None:
        batch, channels, cells = out.shape
        acc = out.new_zeros((batch * cells, channels))
        for _, _, rb, sl in self._chunks(plan, channels):
            acc.index_add_(0, rb, x[sl])
        out.copy_(acc.view(batch, cells, channels).transpose(1, 2))

    def interval_backward(self, grad_out: Tensor, plan: BEVPoolPlan, grad_x: Tensor) -> None:
        grad_cl = self._channels_last(grad_out)
        for _, _, rb, sl in self._chunks(plan, grad_out.shape[1]):
            torch.index_select(grad_cl, 0, rb, out=grad_x[sl])


def materialize_index_add(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> Tensor:
    """Baseline: builds the whole frustum depth x context, then ``index_add_`` into the grid.

    This is the original LSS approach, kept for the benchmark: it allocates the
    ``(B, N, D, H, W, C)`` frustum (about 640 MB float32 at nuScenes size) and, in backward,
    a gradient of the same size. Differentiable through autograd.

    Args:
        depth: ``(B, N, D, H, W)`` depth probabilities.
        context: ``(B, N, C, H, W)`` context features.
        plan: the pool plan of the frustum geometry.

    Returns:
        ``(B, C, Z, Y, X)`` pooled BEV feature.
    """
    check_depth_context(depth, context)
    check_plan(plan, depth)
    batch, channels = depth.shape[0], context.shape[2]
    cells = plan.cells_per_sample
    frustum = depth.unsqueeze(-1) * context.permute(0, 1, 3, 4, 2).unsqueeze(2)
    # Dropped points go to one spare row, so the frustum is added without a gather.
    target = torch.full((depth.numel(), ), batch * cells, dtype=torch.long, device=depth.device)
    target[plan.ranks_depth.long()] = plan.ranks_bev.long()
    acc = frustum.new_zeros((batch * cells + 1, channels))
    acc = acc.index_add(0, target, frustum.reshape(-1, channels))
    out = acc[:-1].view(batch, cells, channels).transpose(1, 2)
    return out.reshape(plan.output_shape(channels))
