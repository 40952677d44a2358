"""Public entry points of the BEV pool and the registry of its implementations."""
from typing import Any, Callable, Dict, Optional, Sequence, Union

from torch import Tensor

from .backends import TORCH_BACKEND, Backend, get_backend
from .cache import BEVPoolPlanCache
from .checks import check_depth_context, check_geom, check_kernel_dtype, check_tensor
from .functions import FusedBEVPool, IntervalBEVPool
from ...structures.bev_grid import BEVGrid
from .plan import BEVPoolPlan, build_plan, check_plan
from .scatter import scatter_pool

PoolFn = Callable[[Tensor, Tensor, BEVPoolPlan], Tensor]


def _feat_rows(context: Tensor) -> Tensor:
    """``(B, N, C, H, W)`` -> channels-last rows ``(B*N*H*W, C)``, contiguous."""
    return context.permute(0, 1, 3, 4, 2).reshape(-1, context.shape[2]).contiguous()


def _fused(depth: Tensor, context: Tensor, plan: BEVPoolPlan, backend: Backend) -> Tensor:
    out = FusedBEVPool.apply(depth.contiguous().view(-1), _feat_rows(context), plan, backend)
    return out.view(plan.output_shape(context.shape[2]))


def _check(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> None:
    check_depth_context(depth, context)
    check_plan(plan, depth)


def fused_pool(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> Tensor:
    """BEVPoolv2-style kernel over depth and context kept apart (compiled; PyTorch fallback).

    Arguments and result as :func:`bev_pool`.
    """
    _check(depth, context, plan)
    check_kernel_dtype(depth, 'depth', 'fused')
    return _fused(depth, context, plan, get_backend(depth.device))


def torch_pool(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> Tensor:
    """The pure-PyTorch reference: chunked gathers and ``index_add_``, any float dtype.

    Arguments and result as :func:`bev_pool`.
    """
    _check(depth, context, plan)
    return _fused(depth, context, plan, TORCH_BACKEND)


def materialized_interval_pool(depth: Tensor, context: Tensor, plan: BEVPoolPlan) -> Tensor:
    """Materialises the frustum ``(P, C)`` in plan order, then runs the interval kernel.

    Arguments and result as :func:`bev_pool`.
    """
    _check(depth, context, plan)
    check_kernel_dtype(depth, 'depth', 'interval')
    feat = _feat_rows(context)
    x = feat.index_select(0, plan.ranks_feat) * depth.reshape(-1).index_select(
        0, plan.ranks_depth).unsqueeze(1)
    return _interval(x, plan, get_backend(depth.device))


def _interval(x: Tensor, plan: BEVPoolPlan, backend: Backend) -> Tensor:
    return IntervalBEVPool.apply(x, plan, backend).view(plan.output_shape(x.shape[1]))


IMPLEMENTATIONS: Dict[str, PoolFn] = {
    'fused': fused_pool,
    'interval': materialized_interval_pool,
    'torch': torch_pool,
    'scatter': scatter_pool,
}


def bev_pool(depth: Tensor, context: Tensor, plan: BEVPoolPlan, impl: str = 'fused') -> Tensor:
    """Sums ``depth x context`` over the frustum points of every BEV cell.

    ``out[b, c, z, y, x] = sum over (n, d, h, w) in cell (z, y, x) of
    depth[b, n, d, h, w] * context[b, n, c, h, w]``; empty cells are 0.

    Args:
        depth: ``(B, N, D, H, W)`` depth probabilities of ``N`` cameras, ``D`` depth bins.
        context: ``(B, N, C, H, W)`` context features; same dtype and device as ``depth``.
        plan: pool plan of the frustum geometry (:func:`build_plan`), built for
            ``depth.shape`` on ``depth.device``.
        impl: a name in :data:`IMPLEMENTATIONS`: ``'fused'`` (compiled, never materialises
            the frustum; float32/float64 on CPU, also float16/bfloat16 on CUDA),
            ``'interval'`` (materialised frustum + compiled interval sums, BEVFusion-style) or
            ``'torch'`` (pure PyTorch, any float dtype) or ``'scatter'`` (gather + scatter-add,
            what an ONNX graph holds; see :mod:`.scatter`).

    Returns:
        ``(B, C, Z, Y, X)`` BEV feature (rows y, columns x), differentiable w.r.t. ``depth``
        and ``context``.

    Raises:
        ValueError: unknown ``impl``, mismatched shapes or devices, or a plan for another shape.
        TypeError: non-tensor or non-float inputs, mismatched or unsupported dtypes.
    """
    fn = IMPLEMENTATIONS.get(impl) if isinstance(impl, str) else None
    if fn is None:
        raise ValueError(f'unknown BEV pool impl {impl!r}; choose one of '
                         f'{sorted(IMPLEMENTATIONS)}')
    return fn(depth, context, plan)  # each implementation validates its arguments


def interval_pool(x: Tensor, plan: BEVPoolPlan) -> Tensor:
    """Sums an already materialised frustum over the points of every BEV cell.

    Args:
        x: either ``(P, C)``, the frustum values of the plan's points in plan order, or the
            whole frustum ``(B, N, D, H, W, C)``, from which the plan's points are gathered.
        plan: the pool plan of the frustum geometry.

    Returns:
        ``(B, C, Z, Y, X)`` BEV feature; ``grad_x[p] = grad_out[:, cell(p)]``.
    """
    if isinstance(x, Tensor) and x.dim() == 6:
        check_tensor(x, 'x', 6, '(B, N, D, H, W, C)')
        if tuple(x.shape[:5]) != plan.depth_shape:
            raise ValueError(f'x {tuple(x.shape)} does not match the plan\'s frustum '
                             f'{plan.depth_shape} + (C,)')
        x = x.reshape(-1, x.shape[-1]).index_select(0, plan.ranks_depth.to(x.device))
    check_tensor(x, 'x', 2, '(P, C) or (B, N, D, H, W, C)')
    if x.shape[0] != plan.num_points:
        raise ValueError(f'x has {x.shape[0]} rows, the plan has {plan.num_points} points')
    if x.device != plan.device:
        raise ValueError(f'x is on {x.device}, the plan on {plan.device}')
    check_kernel_dtype(x, 'x', 'interval')
    return _interval(x.contiguous(), plan, get_backend(x.device))


def lss_bev_pool(depth: Tensor,
                 context: Tensor,
                 geom: Union[Tensor, Callable[[], Tensor]],
                 grid: BEVGrid,
                 *,
                 impl: str = 'fused',
                 plan_cache: Optional[BEVPoolPlanCache] = None,
                 cache_key: Optional[Sequence[Any]] = None) -> Tensor:
    """LSS view transform pooling: lifts ``depth x context`` into BEV without the frustum.

    Args:
        depth: ``(B, N, D, H, W)`` depth probabilities (``N`` cameras, ``D`` depth bins,
            ``H x W`` feature cells).
        context: ``(B, N, C, H, W)`` context features.
        geom: ``(B, N, D, H, W, 3)`` frustum point coordinates ``(x, y, z)`` in metres in the
            LiDAR/ego frame, or a zero-argument function returning them (called only when no
            cached plan fits).
        grid: the BEV grid; points outside it are dropped.
        impl: implementation name, see :func:`bev_pool`.
        plan_cache: reuse plans across calls while ``cache_key`` (plus the grid, the frustum
            shape and the device) is unchanged.
        cache_key: tensors (camera/augmentation matrices) and values that fully determine
            ``geom``; required with ``plan_cache``.

    Returns:
        ``(B, C, Z, Y, X)`` BEV feature (rows y, columns x, mmdet3d's (ny, nx) convention).
    """
    check_depth_context(depth, context)
    if not isinstance(grid, BEVGrid):
        raise TypeError(f'grid must be a BEVGrid, got {type(grid).__name__}')

    def make_plan() -> BEVPoolPlan:
        coords = geom() if callable(geom) else geom
        check_geom(coords, depth.shape)
        return build_plan(coords.to(depth.device), grid)

    if plan_cache is None:
        plan = make_plan()
    else:
        if cache_key is None:
            raise ValueError('cache_key is required when plan_cache is given')
        key = tuple(cache_key) + (grid, tuple(depth.shape), str(depth.device))
        plan = plan_cache.get(key, make_plan)
    return bev_pool(depth, context, plan, impl=impl)
