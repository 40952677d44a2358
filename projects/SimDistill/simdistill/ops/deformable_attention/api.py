"""The public entry point: compiled kernel on CPU, mmcv's PyTorch path everywhere else."""
from typing import Optional

import torch
from torch import Tensor

from . import extension
from ..onnx_custom_ops import exporting_custom_ops
from .function import CompiledMultiScaleDeformableAttn, MSDeformAttnNode, mmcv_pytorch_path

KERNEL_DTYPES = (torch.float32, torch.float64)
BACKWARD_SPLITS = {'auto': 0, 'query': 1, 'head': 2}  # the kernel's `split` argument


def kernel_applies(value: Tensor, sampling_locations: Optional[Tensor] = None,
                   attention_weights: Optional[Tensor] = None,
                   reference_points: Optional[Tensor] = None) -> bool:
    """Whether these inputs are ones the compiled kernel takes (whether it builds aside).

    CPU tensors of one dtype, float32 or float64, outside ONNX export and TorchScript tracing
    (an exported graph must hold the PyTorch path's ops, not an opaque kernel).
    """
    tensors = [t for t in (value, sampling_locations, attention_weights, reference_points)
               if t is not None]
    return (all(t.device.type == 'cpu' and t.dtype == value.dtype for t in tensors)
            and value.dtype in KERNEL_DTYPES and not torch.onnx.is_in_onnx_export()
            and not torch.jit.is_tracing() and not torch.jit.is_scripting())


def kernel_available() -> bool:
    """Whether the compiled kernel is loaded or loads now (builds on first call; never warns or
    raises: the failure is in :func:`extension_status`)."""
    try:
        extension.EXTENSION.load(cuda=False)
    except Exception:  # noqa: BLE001  any build/load failure: not available
        return False
    return True


def extension_status() -> dict:
    """``{'cpu': 'loaded' | 'failed: <why>' | 'not loaded', 'cuda': ...}`` (no CUDA variant
    exists: on CUDA mmcv's kernel runs)."""
    return extension.EXTENSION.status()


def multi_scale_deformable_attn(value: Tensor,
                                value_spatial_shapes: Tensor,
                                sampling_locations: Tensor,
                                attention_weights: Tensor,
                                *,
                                reference_points: Optional[Tensor] = None,
                                backward_split: str = 'auto',
                                backward_chunks: int = 0) -> Tensor:
    """Multi-scale deformable attention, as mmcv's ``multi_scale_deformable_attn_pytorch``.

    ``out[b, q, m*D:(m+1)*D] = sum over levels l, points p of attention_weights[b, q, m, l, p]
    * bilinear(value of head m at level l, sampling_locations[b, q, m, l, p])``, sampled as
    ``F.grid_sample(..., align_corners=False, padding_mode='zeros')``: the location ``(x, y)``
    is normalised so that 0 and 1 are the outer edges of the ``W x H`` map (pixel ``i``'s centre
    is ``(i + 0.5) / W``), and taps outside the map read 0.

    On CPU with float32/float64 inputs the compiled kernel runs (built on first use); if it
    does not build, mmcv's PyTorch path runs instead with one ``RuntimeWarning``, or
    ``CompiledOpsUnavailableError`` is raised when ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set.
    Other devices and dtypes, ONNX export and tracing always take mmcv's PyTorch path, except an
    export inside :func:`simdistill.ops.onnx_custom_ops.export_custom_ops` with reference points,
    which writes one ``simdistill::MSDeformAttn`` node.

    Args:
        value: ``(bs, num_keys, num_heads, head_dims)``; the keys of every level in turn, each
            level row-major ``(H, W)``.
        value_spatial_shapes: ``(num_levels, 2)`` integer ``(H, W)`` per level; the products
            sum to ``num_keys``.
        sampling_locations: ``(bs, num_queries, num_heads, num_levels, num_points, 2)``
            normalised ``(x, y)``; values outside ``[0, 1]`` are allowed.
        attention_weights: ``(bs, num_queries, num_heads, num_levels, num_points)``.
        reference_points: None, or ``(bs, num_queries, num_levels, 2)`` normalised ``(x, y)``:
            then ``sampling_locations`` holds offsets in pixels of each level (mmcv's
            ``sampling_offsets``) and the locations are ``reference_points + offsets / (W, H)``
            (``MultiScaleDeformableAttention``'s rule for 2-D reference points), formed inside
            the kernel rather than materialised.
        backward_split: how the compiled backward shares out the value gradient's scatter
            (no atomics): ``'query'`` (tasks of consecutive queries, all heads, in memory order;
            one private value gradient per extra chunk), ``'head'`` (tasks of one head's slice
            of consecutive queries; a private (keys, head_dims) buffer each) or ``'auto'``
            (by query up to 4 threads per sample, else by head).
        backward_chunks: query chunks per sample (by query) or per (sample, head) (by head);
            0: enough for every thread.

    Returns:
        ``(bs, num_queries, num_heads * head_dims)``, differentiable w.r.t. ``value``,
        ``sampling_locations`` and ``attention_weights``.
    """
    if kernel_applies(value, sampling_locations, attention_weights, reference_points):
        ops = extension.EXTENSION.load_or_fallback(cuda=False)
        if ops is not None:
            shapes = value_spatial_shapes.to(device='cpu', dtype=torch.long)
            return CompiledMultiScaleDeformableAttn.apply(
                value, shapes, sampling_locations, attention_weights, reference_points, ops,
                BACKWARD_SPLITS[backward_split], int(backward_chunks))
    if exporting_custom_ops() and reference_points is not None:
        return MSDeformAttnNode.apply(value, value_spatial_shapes.long(), sampling_locations,
                                      attention_weights, reference_points)
    return mmcv_pytorch_path(value, value_spatial_shapes, sampling_locations, attention_weights,
                             reference_points)
