"""mmcv's ``MultiScaleDeformableAttention`` with the compiled CPU kernel for its core sampling.

mmcv runs its CUDA kernel on GPU but, on CPU, ``multi_scale_deformable_attn_pytorch``: a
``grid_sample`` per head with every sample materialised, about half of the student's CPU time.
This subclass changes only which function computes that core (parameters, their names and
initialisation, ``query_pos``/``identity``/``key_padding_mask`` handling stay mmcv's, so
checkpoints load unchanged): CPU float32/float64 tensors go to the compiled kernel of
:mod:`simdistill.ops.deformable_attention` (which falls back to mmcv's PyTorch path when it
does not build), CUDA to mmcv's CUDA kernel; ONNX export and tracing keep the PyTorch path.
"""
from typing import Optional, Tuple

import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmcv.ops.multi_scale_deform_attn import (MultiScaleDeformableAttnFunction,
                                              multi_scale_deformable_attn_pytorch)
from mmcv.utils import IS_CUDA_AVAILABLE, IS_MLU_AVAILABLE
from torch import Tensor

from ...ops.deformable_attention import kernel_applies, multi_scale_deformable_attn
from ...ops.onnx_custom_ops import exporting_custom_ops


class CPUKernelDeformableAttention(MultiScaleDeformableAttention):
    """``MultiScaleDeformableAttention`` (mmcv 2.1) whose CPU core is the compiled kernel.

    Same arguments, parameters and results as mmcv's module; see :meth:`core` for the choice.

    Without autograd (``no_grad``/inference) the compiled kernel's 2-D-reference form runs in
    chunks of ``inference_query_chunk`` queries: each chunk's offsets, weights and softmax are
    computed and consumed before the next, so the ``(Q, heads * levels * points * 3)`` logits are
    never held at once (at CPU size about 30 MiB of the student's peak memory) and stay in cache.
    Rows are independent, so the result is the unchunked one.

    Attributes:
        inference_query_chunk: queries per chunk without autograd (0: one chunk).
        use_cpu_kernel: False runs mmcv's PyTorch path on CPU (for comparisons; not saved in
            the state dict).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.use_cpu_kernel = True
        self.inference_query_chunk = 2048

    def core(self, value: Tensor) -> str:
        """Which function samples ``value``: ``'mmcv_cuda'`` (mmcv's CUDA/MLU kernel, as mmcv
        picks it), ``'cpu_kernel'`` (the compiled kernel, or mmcv's PyTorch path if it does not
        build; in an ONNX export inside ``export_custom_ops``, the kernel's custom node) or
        ``'pytorch'`` (mmcv's ``multi_scale_deformable_attn_pytorch``)."""
        if (IS_CUDA_AVAILABLE and value.is_cuda) or (IS_MLU_AVAILABLE and value.is_mlu):
            return 'mmcv_cuda'
        compiled = kernel_applies(value) or exporting_custom_ops()
        return 'cpu_kernel' if self.use_cpu_kernel and compiled else 'pytorch'

    def sampling_locations(self, reference_points: Tensor, sampling_offsets: Tensor,
                           spatial_shapes: Tensor) -> Tensor:
        """mmcv's sampling locations: ``(bs, nq, heads, levels, points, 2)`` normalised."""
        if reference_points.shape[-1] == 2:
            offset_normalizer = torch.stack([spatial_shapes[..., 1], spatial_shapes[..., 0]],
                                            -1)
            return reference_points[:, :, None, :, None, :] \
                + sampling_offsets / offset_normalizer[None, None, None, :, None, :]
        if reference_points.shape[-1] == 4:
            return reference_points[:, :, None, :, None, :2] \
                + sampling_offsets / self.num_points \
                * reference_points[:, :, None, :, None, 2:] * 0.5
        raise ValueError('Last dim of reference_points must be 2 or 4, but get '
                         f'{reference_points.shape[-1]} instead.')

    def query_chunk(self, num_query: int) -> int:
        """Queries per kernel call: ``inference_query_chunk`` without autograd (outside ONNX
        export, whose graph would unroll the chunks), else all of them."""
        if (self.inference_query_chunk > 0 and not torch.is_grad_enabled()
                and not torch.onnx.is_in_onnx_export()):
            return min(self.inference_query_chunk, num_query)
        return num_query

    def offsets_and_weights(self, query: Tensor) -> Tuple[Tensor, Tensor]:
        """mmcv's sampling offsets ``(bs, nq, heads, levels, points, 2)`` and softmaxed
        attention weights ``(bs, nq, heads, levels, points)`` of ``(bs, nq, C)`` queries."""
        bs, num_query, _ = query.shape
        sampling_offsets = self.sampling_offsets(query).view(
            bs, num_query, self.num_heads, self.num_levels, self.num_points, 2)
        attention_weights = self.attention_weights(query).view(
            bs, num_query, self.num_heads, self.num_levels * self.num_points)
        attention_weights = attention_weights.softmax(-1)
        return sampling_offsets, attention_weights.view(bs, num_query, self.num_heads,
                                                        self.num_levels, self.num_points)

    def forward(self,
                query: Tensor,
                key: Optional[Tensor] = None,
                value: Optional[Tensor] = None,
                identity: Optional[Tensor] = None,
                query_pos: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None,
                reference_points: Optional[Tensor] = None,
                spatial_shapes: Optional[Tensor] = None,
                level_start_index: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """mmcv 2.1's ``MultiScaleDeformableAttention.forward``, line for line, except for the
        choice of the core function (:meth:`core`) and, for the compiled kernel with 2-D
        reference points, that the kernel forms the sampling locations itself (in query chunks
        without autograd, :meth:`query_chunk`). Arguments and
        result as there."""
        if value is None:
            value = query
        if identity is None:
            identity = query
        if query_pos is not None:
            query = query + query_pos
        if not self.batch_first:  # (num_query, bs, embed_dims) -> (bs, num_query, embed_dims)
            query = query.permute(1, 0, 2)
            value = value.permute(1, 0, 2)

        bs, num_query, _ = query.shape
        bs, num_value, _ = value.shape
        assert (spatial_shapes[:, 0] * spatial_shapes[:, 1]).sum() == num_value

        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(bs, num_value, self.num_heads, -1)
        core = self.core(value)
        if core == 'cpu_kernel' and reference_points.shape[-1] == 2:
            # the kernel forms reference + offset / (W, H) per sample: 2 passes over the
            # (bs, nq, heads, levels, points, 2) locations and their memory saved
            chunk = self.query_chunk(num_query)
            outputs = [
                multi_scale_deformable_attn(
                    value, spatial_shapes,
                    *self.offsets_and_weights(query[:, start:start + chunk]),
                    reference_points=reference_points[:, start:start + chunk])
                for start in range(0, num_query, chunk)
            ]
            output = outputs[0] if len(outputs) == 1 else torch.cat(outputs, 1)
        else:
            sampling_offsets, attention_weights = self.offsets_and_weights(query)
            sampling_locations = self.sampling_locations(reference_points, sampling_offsets,
                                                         spatial_shapes)
            if core == 'mmcv_cuda':
                output = MultiScaleDeformableAttnFunction.apply(
                    value, spatial_shapes, level_start_index, sampling_locations,
                    attention_weights, self.im2col_step)
            elif core == 'cpu_kernel':
                output = multi_scale_deformable_attn(value, spatial_shapes, sampling_locations,
                                                     attention_weights)
            else:
                output = multi_scale_deformable_attn_pytorch(value, spatial_shapes,
                                                             sampling_locations,
                                                             attention_weights)

        output = self.output_proj(output)
        if not self.batch_first:  # back to (num_query, bs, embed_dims)
            output = output.permute(1, 0, 2)
        return self.dropout(output) + identity
