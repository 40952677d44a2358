"""Autograd function of the compiled multi-scale deformable attention (CPU kernels)."""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from ..onnx_custom_ops import DOMAIN


class CompiledMultiScaleDeformableAttn(torch.autograd.Function):
    """The kernels of ``src/ms_deform_attn.cpp`` as an autograd function.

    Inputs as :func:`~.api.multi_scale_deformable_attn` (same dtype, CPU, float32/float64;
    ``reference_points`` None or ``(bs, num_queries, num_levels, 2)``, then
    ``sampling_locations`` holds offsets in pixels), plus the loaded ``torch.ops`` namespace
    and the backward's work split (``split``: 0 auto, 1 by query, 2 by head; ``chunks``: query
    chunks per task group, 0 auto; see the kernel). Gradients flow to ``value``,
    ``sampling_locations``, ``attention_weights`` and ``reference_points``; not twice
    (``once_differentiable``).
    """

    @staticmethod
    def forward(ctx: FunctionCtx, value: Tensor, spatial_shapes: Tensor,
                sampling_locations: Tensor, attention_weights: Tensor,
                reference_points: Optional[Tensor], ops: Any, split: int, chunks: int) -> Tensor:
        value = value.contiguous()
        sampling_locations = sampling_locations.contiguous()
        attention_weights = attention_weights.contiguous()
        if reference_points is not None:
            reference_points = reference_points.contiguous()
        bs, _, num_heads, head_dims = value.shape
        out = value.new_empty((bs, sampling_locations.shape[1], num_heads * head_dims))
        ops.forward(value, spatial_shapes, sampling_locations, attention_weights,
                    reference_points, out)
        ctx.save_for_backward(value, spatial_shapes, sampling_locations, attention_weights,
                              reference_points)
        ctx.ops, ctx.split, ctx.chunks = ops, split, chunks
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor
                 ) -> Tuple[Optional[Tensor], None, Optional[Tensor], Optional[Tensor],
                            Optional[Tensor], None, None, None]:
        value, spatial_shapes, locations, weights, reference = ctx.saved_tensors
        need_value, _, need_locations, need_weights, need_reference = ctx.needs_input_grad[:5]
        grad_value = torch.empty_like(value) if need_value else None
        # the location and weight gradients come out of the same pass; unneeded ones are dropped
        grad_locations = torch.empty_like(locations)
        grad_weights = torch.empty_like(weights)
        ctx.ops.backward(grad_out.to(value.dtype).contiguous(), value, spatial_shapes,
                         locations, weights, reference, ctx.split, ctx.chunks, grad_value,
                         grad_locations, grad_weights)
        grad_reference = None
        if need_reference:  # pixel = reference * size - 0.5 + offset
            sizes = spatial_shapes.flip(-1).to(grad_locations.dtype)  # (levels, 2) as (W, H)
            grad_reference = grad_locations.sum(dim=(2, 4)) * sizes
        return (grad_value, None, grad_locations if need_locations else None,
                grad_weights if need_weights else None, grad_reference, None, None, None)


def mmcv_pytorch_path(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                      attention_weights: Tensor, reference_points: Optional[Tensor]) -> Tensor:
    """mmcv's ``multi_scale_deformable_attn_pytorch`` (``grid_sample`` per head and level);
    with ``reference_points`` the locations are formed first, as mmcv's module forms them."""
    from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch
    if reference_points is not None:  # mmcv's MultiScaleDeformableAttention, 2-D references
        offset_normalizer = torch.stack(
            [value_spatial_shapes[..., 1], value_spatial_shapes[..., 0]], -1)
        sampling_locations = reference_points[:, :, None, :, None, :] \
            + sampling_locations / offset_normalizer[None, None, None, :, None, :]
    return multi_scale_deformable_attn_pytorch(value, value_spatial_shapes, sampling_locations,
                                               attention_weights)


class MSDeformAttnNode(torch.autograd.Function):
    """``simdistill::MSDeformAttn`` (reference-point form); the eager value is mmcv's path."""

    @staticmethod
    def forward(ctx, value: Tensor, spatial_shapes: Tensor, sampling_offsets: Tensor,
                attention_weights: Tensor, reference_points: Tensor) -> Tensor:
        return mmcv_pytorch_path(value, spatial_shapes, sampling_offsets, attention_weights,
                                 reference_points)

    @staticmethod
    def symbolic(g, value, spatial_shapes, sampling_offsets, attention_weights,
                 reference_points):
        out = g.op(f'{DOMAIN}::MSDeformAttn', value, spatial_shapes, sampling_offsets,
                   attention_weights, reference_points)
        out.setType(value.type().with_sizes([None, None, None]))  # (B, Q, heads * head_dims)
        return out
