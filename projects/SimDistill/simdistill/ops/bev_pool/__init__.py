"""BEV pool of the LSS view transform: sums depth x context per BEV cell, frustum-free.

Importing this package compiles nothing; the kernels are built on first use (see
:mod:`.extension`) and the pure-PyTorch implementation takes over if that fails.
"""
from .api import (IMPLEMENTATIONS, bev_pool, fused_pool, interval_pool, lss_bev_pool,
                  materialized_interval_pool, torch_pool)
from .backends import get_backend
from .cache import BEVPoolPlanCache
from .extension import build, cuda_arch_list, cuda_buildable, load_extension
from .extension import status as extension_status
from .plan import BEVPoolPlan, FeatGroups, build_plan
from .reference import TorchBackend, materialize_index_add
from .scatter import scatter_pool, scatter_pool_indices

__all__ = [
    'BEVPoolPlan', 'BEVPoolPlanCache', 'FeatGroups', 'IMPLEMENTATIONS',
    'TorchBackend', 'bev_pool', 'build', 'build_plan', 'cuda_arch_list', 'cuda_buildable',
    'extension_status', 'fused_pool', 'get_backend', 'interval_pool', 'load_extension',
    'lss_bev_pool', 'materialize_index_add', 'materialized_interval_pool', 'scatter_pool',
    'scatter_pool_indices', 'torch_pool'
]
