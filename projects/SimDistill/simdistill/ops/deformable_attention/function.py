"""Autograd function of the compiled multi-scale deformable attention (CPU kernels)."""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable


class CompiledMultiScaleDeformableAttn(torch.autograd.Function):
    """The kernels of ``src/ms_deform_attn.cpp`` as an autograd function.

    Inputs as :func:`~.api.multi_scale_deformable_attn` (same dtype, CPU, float32/float64),
    plus the loaded ``torch.ops`` namespace and the backward's work split (``split``: 0 auto,
    1 by query, 2 by head; ``chunks``: query chunks per task group, 0 auto; see the kernel).
    Gradients flow to ``value``, ``sampling_locations`` and ``attention_weights``; not twice
    (``once_differentiable``).
    """

    @staticmethod
    def forward(ctx: FunctionCtx, value: Tensor, spatial_shapes: Tensor,
                sampling_locations: Tensor, attention_weights: Tensor, ops: Any, split: int,
                chunks: int) -> Tensor:
        value = value.contiguous()
        sampling_locations = sampling_locations.contiguous()
        attention_weights = attention_weights.contiguous()
        bs, _, num_heads, head_dims = value.shape
        out = value.new_empty((bs, sampling_locations.shape[1], num_heads * head_dims))
        ops.forward(value, spatial_shapes, sampling_locations, attention_weights, out)
        ctx.save_for_backward(value, spatial_shapes, sampling_locations, attention_weights)
        ctx.ops, ctx.split, ctx.chunks = ops, split, chunks
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor
                 ) -> Tuple[Optional[Tensor], None, Optional[Tensor], Optional[Tensor], None,
                            None, None]:
        value, spatial_shapes, locations, weights = ctx.saved_tensors
        need_value, _, need_locations, need_weights = ctx.needs_input_grad[:4]
        grad_value = torch.empty_like(value) if need_value else None
        # the location and weight gradients come out of the same pass; unneeded ones are dropped
        grad_locations = torch.empty_like(locations)
        grad_weights = torch.empty_like(weights)
        ctx.ops.backward(grad_out.to(value.dtype).contiguous(), value, spatial_shapes,
                         locations, weights, ctx.split, ctx.chunks, grad_value, grad_locations,
                         grad_weights)
        return (grad_value, None, grad_locations if need_locations else None,
                grad_weights if need_weights else None, None, None, None)
