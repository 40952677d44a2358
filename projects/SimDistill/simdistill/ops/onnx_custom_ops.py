"""The ONNX form of SimDistill's operators as custom nodes (domain ``simdistill``).

A stock ONNX graph holds the BEV pool as ``Gather`` + ``ScatterElements(add)`` over every
frustum point's ``C`` values and the deformable attention as one ``GridSample`` per head: both
exact, both several times slower in onnxruntime than the compiled kernels are in PyTorch. Inside
:func:`export_custom_ops` the two operators export instead as one node each,

- ``simdistill::BEVPool(depth, context_rows, ranks_depth, ranks_feat, ranks_bev)`` with the
  attribute ``cells`` (``Z * Y * X``): ``depth`` ``(B, N, D, H, W)``, ``context_rows``
  ``(B * N * H * W, C)``, ranks ``(P,)`` int64 (the plan, sorted by cell) -> ``(B, C, cells)``;
- ``simdistill::MSDeformAttn(value, spatial_shapes, sampling_offsets, attention_weights,
  reference_points)``: shapes as :func:`.deformable_attention.multi_scale_deformable_attn`
  with reference points (offsets in pixels) -> ``(B, Q, heads * head_dims)``;

which onnxruntime runs with the library of :mod:`simdistill.deployment.onnxruntime_ops` (the
same C++ forward kernels as the PyTorch operators). Outside the context manager, or for inputs
the nodes do not take (deformable attention without reference points), export is unchanged.
The nodes: :class:`.bev_pool.scatter.BEVPoolNode`, :class:`.deformable_attention.function.
MSDeformAttnNode`.
"""
from contextlib import contextmanager
from typing import Iterator

import torch

DOMAIN = 'simdistill'
DOMAIN_VERSION = 1
_enabled = False


@contextmanager
def export_custom_ops() -> Iterator[None]:
    """Within it, ``torch.onnx.export`` writes the ``simdistill`` custom nodes."""
    global _enabled
    previous, _enabled = _enabled, True
    try:
        yield
    finally:
        _enabled = previous


def exporting_custom_ops() -> bool:
    """Whether an ONNX export that writes the custom nodes is under way."""
    return _enabled and torch.onnx.is_in_onnx_export()
