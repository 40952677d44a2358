"""Argument validation for the BEV pool entry points (run before any kernel sees the data)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

# dtypes the compiled kernels handle per device type; the pure-PyTorch path takes any float.
KERNEL_DTYPES = {
    'cpu': (torch.float32, torch.float64),
    'cuda': (torch.float32, torch.float64, torch.float16, torch.bfloat16),
}


def shape_of(t: Tensor) -> Tuple[int, ...]:
    return tuple(t.shape)


def check_tensor(t: object, name: str, dim: int, layout: str) -> Tensor:
    """Checks that ``t`` is a floating-point tensor with ``dim`` dimensions.

    Raises:
        TypeError: ``t`` is not a floating-point tensor.
        ValueError: ``t`` has the wrong number of dimensions.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor {layout}, got {type(t).__name__}')
    if not t.is_floating_point():
        raise TypeError(f'{name} must be a floating-point tensor, got {t.dtype}')
    if t.dim() != dim:
        raise ValueError(f'{name} must have shape {layout}, got {shape_of(t)}')
    return t


def check_depth_context(depth: Tensor, context: Tensor) -> None:
    """Checks depth ``(B, N, D, H, W)`` against context ``(B, N, C, H, W)``."""
    check_tensor(depth, 'depth', 5, '(B, N, D, H, W)')
    check_tensor(context, 'context', 5, '(B, N, C, H, W)')
    if context.dtype != depth.dtype:
        raise TypeError(f'context dtype {context.dtype} differs from depth dtype {depth.dtype}')
    if context.device != depth.device:
        raise ValueError(f'context is on {context.device}, depth on {depth.device}')
    b, n, _, h, w = depth.shape
    if (context.shape[0], context.shape[1], context.shape[3], context.shape[4]) != (b, n, h, w):
        raise ValueError(f'context must have shape (B, N, C, H, W) = ({b}, {n}, C, {h}, {w}) to '
                         f'match depth {shape_of(depth)}, got {shape_of(context)}')


def check_kernel_dtype(t: Tensor, name: str, impl: str) -> None:
    """Checks that the compiled kernels of ``impl`` handle ``t``'s dtype on its device."""
    supported = KERNEL_DTYPES.get(t.device.type)
    if supported is not None and t.dtype not in supported:
        names = ', '.join(str(d).replace('torch.', '') for d in supported)
        raise TypeError(f'{name} dtype {t.dtype} is not supported by impl {impl!r} on '
                        f'{t.device.type} (supported: {names}); use impl=\'torch\'')


def check_geom(geom: Tensor, depth_shape: Optional[Tuple[int, ...]] = None) -> None:
    """Checks frustum coordinates ``(B, N, D, H, W, 3)``, optionally against a depth shape."""
    check_tensor(geom, 'geom', 6, '(B, N, D, H, W, 3)')
    if geom.shape[-1] != 3:
        raise ValueError(f'geom must have shape (B, N, D, H, W, 3), got {shape_of(geom)}')
    if depth_shape is not None and tuple(geom.shape[:5]) != tuple(depth_shape):
        raise ValueError(f'geom {shape_of(geom)} does not match depth {tuple(depth_shape)}: '
                         'expected (B, N, D, H, W, 3) with the same B, N, D, H, W')
