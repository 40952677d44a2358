"""Choice of the code that runs the BEV pool operators: compiled kernels or pure PyTorch."""
from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor

from . import extension
from .plan import BEVPoolPlan
from .reference import TorchBackend

Backend = Union['ExtensionBackend', TorchBackend]
TORCH_BACKEND = TorchBackend()


# Output cells per tile of the tile kernels: the CUDA kernels are compiled for 32; on CPU a
# 64-cell tile of C = 80 channels (20 KB) stays in L1/L2.
TILE_CELLS = {'cpu': 64, 'cuda': 32}


class ExtensionBackend:
    """The compiled operators (``torch.ops.simdistill_bev_pool_*``) behind the backend API.

    See :class:`~.reference.TorchBackend` for shapes; results go into the last argument.
    """

    name = 'extension'

    def __init__(self, ops: Any) -> None:
        self.ops = ops

    @staticmethod
    def _tiles(plan: BEVPoolPlan, like: Tensor) -> Tuple[Tensor, int]:
        tile_cells = TILE_CELLS[like.device.type]
        return plan.tile_offsets(tile_cells), tile_cells

    def fused_forward(self, depth: Tensor, feat: Tensor, plan: BEVPoolPlan, out: Tensor) -> None:
        self.ops.fused_forward(depth, feat, plan.ranks_depth, plan.ranks_feat,
                               plan.interval_starts, plan.interval_lengths, plan.interval_cells,
                               *self._tiles(plan, out), out)

    def fused_backward_depth(self,
                             grad_out: Tensor,
                             feat: Tensor,
                             plan: BEVPoolPlan,
                             grad_depth: Tensor,
                             grad_cells: Optional[Tensor] = None) -> None:
        self.ops.fused_backward_depth(grad_out, feat, plan.ranks_depth, plan.ranks_feat,
                                      plan.interval_starts, plan.interval_lengths,
                                      plan.interval_cells, *self._tiles(plan, grad_out),
                                      grad_depth, grad_cells)

    def fused_backward_feat(self, grad_cells: Tensor, depth: Tensor, plan: BEVPoolPlan,
                            grad_feat: Tensor) -> None:
        groups = plan.feat_groups()
        self.ops.fused_backward_feat(grad_cells, depth, groups.ranks_depth, groups.intervals,
                                     groups.feats, groups.starts, groups.lengths, grad_feat)

    def interval_forward(self, x: Tensor, plan: BEVPoolPlan, out: Tensor) -> None:
        self.ops.interval_forward(x, plan.interval_starts, plan.interval_lengths,
                                  plan.interval_cells, *self._tiles(plan, out), out)

    def interval_backward(self, grad_out: Tensor, plan: BEVPoolPlan, grad_x: Tensor) -> None:
        self.ops.interval_backward(grad_out, plan.interval_starts, plan.interval_lengths,
                                   plan.interval_cells, *self._tiles(plan, grad_out), grad_x)


def get_backend(device: torch.device) -> Backend:
    """The compiled kernels for ``device`` if they build and load, else the PyTorch fallback.

    The first call per variant may compile (tens of seconds); a failure warns once per process.
    Devices other than CPU and CUDA always get the PyTorch backend.

    Raises:
        extension.CompiledOpsUnavailableError: no compiled kernels for ``device`` while
            ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set.
    """
    device = torch.device(device)
    if device.type not in ('cpu', 'cuda'):
        if extension.compiled_ops_required():
            raise extension.CompiledOpsUnavailableError(
                f'simdistill BEV pool: no compiled kernels exist for {device.type} tensors and '
                f'{extension.REQUIRE_ENV} is set, which forbids the pure-PyTorch fallback')
        return TORCH_BACKEND
    ops = extension.load_ops(cuda=device.type == 'cuda')
    return TORCH_BACKEND if ops is None else ExtensionBackend(ops)
