"""Custom operators of SimDistill (built lazily on first use; importing compiles nothing).

``simdistill.ops.bev_pool`` is the BEV pool package; its function of the same name is
``simdistill.ops.bev_pool.bev_pool`` (not re-exported here, so the package name stays usable).
``simdistill.ops.deformable_attention`` is the CPU kernel of mmcv's multi-scale deformable
attention. Both build through :mod:`.lazy_extension`.
"""
from . import bev_pool, deformable_attention
from .bev_pool import BEVPoolPlan, BEVPoolPlanCache, build_plan, lss_bev_pool

__all__ = ['BEVPoolPlan', 'BEVPoolPlanCache', 'bev_pool', 'build_plan',
           'deformable_attention', 'lss_bev_pool']
