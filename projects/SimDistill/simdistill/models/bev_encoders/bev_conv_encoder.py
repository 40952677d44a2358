"""A few 3x3 conv layers on the LiDAR BEV map, between the pillar scatter and the fuser.

Why it exists: at CPU size the LiDAR branch is one pillar layer scattered to the grid, so the
LiDAR BEV that SimDistill's cross-modal term distils is a per-pillar feature with no spatial
context; the paper's teacher distils a deep sparse encoder's output. These layers (what a light
sparse encoder would add, at a cost the 2-core benchmark affords) make it a learned map.
"""
from typing import Optional

from mmcv.cnn import ConvModule
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class BEVConvEncoder(BaseModule):
    """``num_convs`` x (3x3 conv, BN, ReLU) at stride 1: ``(B, C_in, ny, nx)`` ->
    ``(B, C_out, ny, nx)``.

    Args:
        in_channels: channels of the scattered LiDAR BEV.
        out_channels: channels of every layer (and of the output).
        num_convs: layers.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 3,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.convs = nn.Sequential(*[
            ConvModule(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                       bias=False, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'))
            for i in range(num_convs)
        ])

    def forward(self, bev: Tensor) -> Tensor:
        if bev.dim() != 4 or bev.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects a BEV map (B, {self.in_channels}, '
                             f'ny, nx), got {tuple(bev.shape)}')
        return self.convs(bev)
