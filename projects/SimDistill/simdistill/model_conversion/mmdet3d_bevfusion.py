"""Weights of mmdet3d 1.x ``projects/BEVFusion`` -> this project's
BEVFusionDetector / BEVTransFusionHead.

Both models compute the same thing; they differ only in the BEV layout and a few buffers:

* upstream's BEV maps are ``(B, C, X, Y)``, this project's ``(B, C, Y, X)`` (rows = y, as the
  rest of mmdet3d). Every 2-D conv or deconv kernel that runs on a BEV map has its two
  spatial axes swapped: the camera-BEV ``view_transform.downsample``, ``fusion_layer``,
  ``pts_backbone`` (SECOND), ``pts_neck`` (SECONDFPN), ``bbox_head.shared_conv`` and
  ``bbox_head.heatmap_head``. 1x1 convs, Conv1d and attention weights are unchanged.
* upstream's sparse encoder indexes voxels ``(x, y, z)``, mmdet3d's ``SparseEncoder``
  ``(z, y, x)``: every spconv-2 kernel ``(out, k_x, k_y, k_z, in)`` becomes
  ``(out, k_z, k_y, k_x, in)``. A kernel of a module not marked spconv-2 (``version`` 2 in
  the file's ``_metadata``) is first moved from mmcv/spconv-1 layout ``(k, k, k, in, out)``,
  as mmdet3d's own loader does.
* ``view_transform.{frustum,dx,bx,nx}`` are dropped: this project derives them from the
  config (``image_size``, ``feature_size``, ``xbound``/``ybound``/``zbound``/``dbound``).

Every other key keeps its name: the image backbone, ``img_neck`` (:class:`LSSFPNNeck`),
``view_transform.dtransform`` / ``depthnet``, and the head's ``class_encoding``, ``decoder.0``
and ``prediction_heads.0`` have upstream's names here.
"""
from collections import OrderedDict
from typing import Mapping

from torch import Tensor

CONVERTER = 'tools/model_converters/mmdet3d_bevfusion.py'
# Prefixes of the 2-D convs that run on a BEV map.
BEV_CONV_PREFIXES = ('view_transform.downsample.', 'fusion_layer.', 'pts_backbone.',
                     'pts_neck.', 'bbox_head.shared_conv.', 'bbox_head.heatmap_head.')
DROPPED_KEYS = ('view_transform.frustum', 'view_transform.dx', 'view_transform.bx',
                'view_transform.nx')
SPARSE_PREFIX = 'pts_middle_encoder.'
# Upstream's sparse conv_out kernel acts along z, its last voxel axis: (out, 1, 1, 3, in).
UPSTREAM_CONV_OUT = 'pts_middle_encoder.conv_out.0.weight'


def _module_version(state: Mapping[str, Tensor], key: str):
    metadata = getattr(state, '_metadata', None) or {}
    return metadata.get(key.rsplit('.', 1)[0], {}).get('version')


def convert_mmdet3d_bevfusion(state: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Converts an upstream BEVFusion state dict (LiDAR + camera or LiDAR-only).

    Args:
        state: plain state dict of upstream's ``BEVFusion`` (see
            :func:`simdistill.checkpoint.state_dicts.plain_state_dict`).

    Returns:
        OrderedDict: this project's state dict; its ``_metadata`` marks the sparse convs as
        spconv-2 (mmdet3d's loader would otherwise permute their kernels again).

    Raises:
        ValueError: ``state`` already is in this project's layout (converting twice would
            transpose the kernels back).
    """
    if looks_like_upstream_bevfusion(state) is None:
        raise ValueError(f'this state dict has neither {DROPPED_KEYS[0]} nor upstream\'s '
                         f'{UPSTREAM_CONV_OUT} (out, 1, 1, 3, in): it is not an mmdet3d '
                         'projects/BEVFusion state dict (already converted?)')
    out = OrderedDict()
    metadata = OrderedDict()
    for key, value in state.items():
        if key in DROPPED_KEYS:
            continue
        if key.startswith(SPARSE_PREFIX) and value.dim() == 5:
            if _module_version(state, key) != 2:  # mmcv / spconv 1.x (k, k, k, in, out)
                value = value.permute(4, 0, 1, 2, 3)
            value = value.permute(0, 3, 2, 1, 4)  # (out, x, y, z, in) -> (out, z, y, x, in)
            metadata[key.rsplit('.', 1)[0]] = {'version': 2}
        elif value.dim() == 4 and key.startswith(BEV_CONV_PREFIXES):
            value = value.transpose(2, 3)
        out[key] = value.contiguous()
    out._metadata = metadata
    return out


def looks_like_upstream_bevfusion(state: Mapping[str, Tensor]):
    """The key that shows ``state`` is in upstream's layout, or None.

    Upstream's files have the view transform's frustum buffers, and (LiDAR-only ones too) a
    sparse ``conv_out`` kernel of extent 3 along its last voxel axis, where this project's
    (mmdet3d's ``SparseEncoder``, voxels ``(z, y, x)``) has it along the first.
    """
    for key in DROPPED_KEYS:
        if key in state:
            return key
    kernel = state.get(UPSTREAM_CONV_OUT)
    if kernel is not None and kernel.dim() == 5:
        spconv2 = _module_version(state, UPSTREAM_CONV_OUT) == 2
        spatial = tuple(kernel.shape[1:4] if spconv2 else kernel.shape[0:3])
        if spatial == (1, 1, 3):
            return UPSTREAM_CONV_OUT
    return None


def refuse_upstream_layout(state: Mapping[str, Tensor], prefix: str = '',
                           source: str = 'the state dict') -> None:
    """Raises if ``state`` (under ``prefix``) holds upstream BEVFusion weights, unconverted.

    Their square BEV kernels would load with equal shapes and silently compute transposed
    maps, so the load must fail and say which converter to run.

    Raises:
        ValueError: names the evidence and the converter.
    """
    view = state
    if prefix:
        view = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
        view._metadata = {k[len(prefix):]: v for k, v in
                          (getattr(state, '_metadata', None) or {}).items()
                          if k.startswith(prefix)}
    evidence = looks_like_upstream_bevfusion(view)
    if evidence is not None:
        raise ValueError(
            f'{source} holds mmdet3d projects/BEVFusion weights in their own BEV layout '
            f'({prefix}{evidence}); loading them would transpose every BEV kernel. Convert '
            f'them first: python {CONVERTER} IN.pth OUT.pth')
