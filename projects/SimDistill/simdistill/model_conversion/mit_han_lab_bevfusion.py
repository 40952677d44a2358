"""Weights of the original BEVFusion release (mit-han-lab/bevfusion, mmdet3d 0.x; SimDistill's
teacher checkpoints use its names) -> this project's BEVFusionDetector / BEVTransFusionHead.

Key map, applied first (then :func:`convert_mmdet3d_bevfusion`, the names being mmdet3d 1.x
``projects/BEVFusion``'s from there on):

============================================  =============================================
release                                       here
============================================  =============================================
``encoders.camera.backbone.``                 ``img_backbone.`` (mmdet Swin, same keys)
``encoders.camera.neck.``                     ``img_neck.`` (GeneralizedLSSFPN, same keys)
``encoders.camera.vtransform.``               ``view_transform.`` (DepthLSSTransform)
``encoders.lidar.backbone.``                  ``pts_middle_encoder.`` (sparse encoder)
``fuser.``                                    ``fusion_layer.``
``decoder.backbone.``                         ``pts_backbone.`` (SECOND)
``decoder.neck.``                             ``pts_neck.`` (SECONDFPN)
``heads.object.``                             ``bbox_head.`` (BEVTransFusionHead)
``bbox_head.decoder.N.self_attn.X``           ``bbox_head.decoder.N.self_attn.attn.X``
``bbox_head.decoder.N.multihead_attn.X``      ``bbox_head.decoder.N.cross_attn.attn.X``
``bbox_head.decoder.N.linear1.``              ``bbox_head.decoder.N.ffn.layers.0.0.``
``bbox_head.decoder.N.linear2.``              ``bbox_head.decoder.N.ffn.layers.1.``
``bbox_head.decoder.N.norm1/2/3.``            ``bbox_head.decoder.N.norms.0/1/2.``
============================================  =============================================

The release's decoder layer computes what upstream's mmdet3d 1.x port computes (positions added
to queries, keys and values; residuals without them; post-norm), and its ``FFN`` prediction
heads have ``SeparateHead``'s layers. Its sparse convs are spconv 1.x (``(k_x, k_y, k_z, in,
out)``, no version-2 marker), which :func:`convert_mmdet3d_bevfusion` re-lays out.
"""
import re
from collections import OrderedDict
from typing import Mapping

from torch import Tensor

from .mmdet3d_bevfusion import convert_mmdet3d_bevfusion

PREFIXES = (
    ('encoders.camera.backbone.', 'img_backbone.'),
    ('encoders.camera.neck.', 'img_neck.'),
    ('encoders.camera.vtransform.', 'view_transform.'),
    ('encoders.lidar.backbone.', 'pts_middle_encoder.'),
    ('fuser.', 'fusion_layer.'),
    ('decoder.backbone.', 'pts_backbone.'),
    ('decoder.neck.', 'pts_neck.'),
    ('heads.object.', 'bbox_head.'),
)
DECODER_LAYER = (
    (r'self_attn\.', 'self_attn.attn.'),
    (r'multihead_attn\.', 'cross_attn.attn.'),
    (r'linear1\.', 'ffn.layers.0.0.'),
    (r'linear2\.', 'ffn.layers.1.'),
    (r'norm1\.', 'norms.0.'),
    (r'norm2\.', 'norms.1.'),
    (r'norm3\.', 'norms.2.'),
)
_DECODER_KEY = re.compile(r'^(bbox_head\.decoder\.\d+\.)(.*)$')


def is_mit_han_lab_bevfusion(state: Mapping[str, Tensor]) -> bool:
    """Whether ``state`` uses the original release's names (``encoders.*``, ``heads.*``)."""
    return any(k.startswith(('encoders.', 'heads.')) for k in state)


def rename_mit_han_lab_key(key: str) -> str:
    """The mmdet3d 1.x ``projects/BEVFusion`` name of a release key.

    Raises:
        ValueError: a key outside the LiDAR + camera detector (e.g. a map head or a radar
            encoder), naming it.
    """
    for old, new in PREFIXES:
        if key.startswith(old):
            key = new + key[len(old):]
            break
    else:
        raise ValueError(f'{key!r} is no part of the BEVFusion LiDAR + camera detector this '
                         f'project builds (known prefixes: {[p for p, _ in PREFIXES]})')
    match = _DECODER_KEY.match(key)
    if match:
        layer, rest = match.groups()
        for pattern, replacement in DECODER_LAYER:
            if re.match(pattern, rest):
                return layer + re.sub(pattern, replacement, rest, count=1)
    return key


def convert_mit_han_lab_bevfusion(state: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Converts a release state dict (LiDAR + camera or LiDAR-only) for this project.

    Returns:
        OrderedDict: as :func:`convert_mmdet3d_bevfusion` returns.
    """
    renamed = OrderedDict((rename_mit_han_lab_key(k), v) for k, v in state.items())
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:  # keep any spconv version marker with the renamed module
        renamed._metadata = OrderedDict(
            (rename_mit_han_lab_key(k + '.x')[:-2], v) for k, v in metadata.items()
            if k.startswith(tuple(p.rstrip('.') for p, _ in PREFIXES)) and k.count('.') > 1)
    return convert_mmdet3d_bevfusion(renamed)
