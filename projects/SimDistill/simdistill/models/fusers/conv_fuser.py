"""Fusion of BEV maps by concatenation and a conv."""
from typing import List, Sequence

import torch
from mmdet3d.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class BEVConvFuser(nn.Sequential):
    """Concatenates BEV maps along channels, then 3x3 conv + BN + ReLU.

    With a single input it is a projection (SimDistill maps the simulated-LiDAR BEV to the
    teacher's LiDAR-BEV width with one).

    Args:
        in_channels: channels of each input map, in the order they are passed.
        out_channels: channels of the fused map.

    Shapes:
        inputs: list of ``(B, in_channels[i], H, W)`` -> ``(B, out_channels, H, W)``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        super().__init__(
            nn.Conv2d(sum(in_channels), out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(True))

    def forward(self, inputs: List[Tensor]) -> Tensor:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'ConvFuser expects {len(self.in_channels)} inputs, '
                             f'got {len(inputs)}')
        shapes = [tuple(int(v) for v in x.shape) for x in inputs]  # ints also when traced
        if [s[1] for s in shapes] != self.in_channels or len({s[2:] for s in shapes}) != 1:
            raise ValueError(f'ConvFuser expects channels {self.in_channels} on one grid, got '
                             f'shapes {shapes}')
        return super().forward(torch.cat(inputs, dim=1))
