"""BEVFusion's image neck: a top-down FPN that concatenates instead of adding."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class LSSFPNNeck(BaseModule):
    """Top-down FPN of BEVFusion (upstream ``GeneralizedLSSFPN``, same submodule names).

    From the coarsest level down, level ``i + 1`` is resized bilinearly to level ``i``,
    concatenated with it along channels, then a 1x1 ``lateral_convs[i]`` and a 3x3
    ``fpn_convs[i]`` (conv + norm + act each) map it to ``out_channels``. The coarsest input
    enters the concatenation as it is (no lateral conv of its own), so
    ``lateral_convs[i]`` takes ``in_channels[i] + in_channels[i + 1]`` channels at the second
    coarsest level and ``in_channels[i] + out_channels`` below it.

    Args:
        in_channels: channels of each input level, finest first.
        out_channels: channels of every output level.
        norm_cfg: norm after each conv. Defaults to ``BN2d`` (eps 1e-5, as upstream).
        act_cfg: activation after each norm. Defaults to ReLU.
        upsample_cfg: kwargs of ``F.interpolate`` besides ``size``. BEVFusion's configs use
            ``bilinear`` with ``align_corners=False``.
        conv_cfg: conv layer config. Defaults to ``Conv2d``.
        init_cfg: mmengine init config.

    Shapes:
        ``forward([(B, in_channels[i], H_i, W_i)] * L)`` -> tuple of ``L - 1`` maps
        ``(B, out_channels, H_i, W_i)``, finest first (the coarsest level has no output).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN2d'),
                 act_cfg: dict = dict(type='ReLU'),
                 upsample_cfg: dict = dict(mode='bilinear', align_corners=False),
                 conv_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) < 2:
            raise ValueError(f'LSSFPNNeck needs at least 2 input levels, got {list(in_channels)}')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.upsample_cfg = dict(upsample_cfg)
        last = len(in_channels) - 1
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(last):
            coarser = in_channels[i + 1] if i == last - 1 else out_channels
            self.lateral_convs.append(
                ConvModule(in_channels[i] + coarser, out_channels, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg, inplace=False))
            self.fpn_convs.append(
                ConvModule(out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg, inplace=False))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'LSSFPNNeck expects {len(self.in_channels)} levels, got '
                             f'{len(inputs)}')
        levels: List[Tensor] = list(inputs)
        for i in range(len(levels) - 2, -1, -1):
            coarser = F.interpolate(levels[i + 1], size=levels[i].shape[2:], **self.upsample_cfg)
            merged = torch.cat([levels[i], coarser], dim=1)
            levels[i] = self.fpn_convs[i](self.lateral_convs[i](merged))
        return tuple(levels[:-1])
