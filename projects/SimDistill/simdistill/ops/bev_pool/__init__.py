"""BEV pool of the LSS view transform: sums depth x context per BEV cell, frustum-free.

Importing this package compiles nothing; the kernels are built on first use (see
:mod:`.extension`) and the pure-PyTorch implementation takes over if that fails.

The public surface is what the models, the deployment graph and the tools call; the single
implementations (``api.fused_pool``, ``api.interval_pool``, ``reference.TorchBackend``, ...)
stay importable from their modules for tests and benchmarks.
"""
from .api import IMPLEMENTATIONS, bev_pool, lss_bev_pool
from .backends import get_backend
from .cache import BEVPoolPlanCache
from .extension import build
from .extension import status as extension_status
from .plan import BEVPoolPlan, build_plan
from .scatter import scatter_pool_indices

__all__ = [
    'BEVPoolPlan', 'BEVPoolPlanCache', 'IMPLEMENTATIONS', 'bev_pool', 'build', 'build_plan',
    'extension_status', 'get_backend', 'lss_bev_pool', 'scatter_pool_indices'
]
