"""Build-time check that every BEV map of a detector config lies on one grid.

Shapes are derived from the configs alone, so a mismatch fails before any weight is built.
"""
from typing import Optional, Tuple

from ...errors import ConfigMismatchError
from ...ops.bev_pool import BEVGrid
from ..dense_heads import HeadGrid

Shape = Tuple[int, int]


def camera_bev_shape(cfg: dict) -> Shape:
    """``(ny, nx)`` of a view transform's output: pooling grid / ``downsample``."""
    ds = cfg.get('downsample', 1)
    _, ny, nx = BEVGrid(cfg['xbound'], cfg['ybound'], cfg['zbound']).shape
    return ny // ds, nx // ds


def lidar_bev_shape(cfg: dict) -> Optional[Shape]:
    """``(ny, nx)`` of a LiDAR middle encoder's output, or None for an unknown encoder."""
    if 'output_shape' in cfg:  # PointPillarsScatter: [ny, nx]
        return tuple(cfg['output_shape'])
    if 'sparse_shape' in cfg:  # SparseEncoder: [nz, ny, nx], stride 2 per stage after the first
        stages = len(cfg.get('encoder_channels', ((16, ), (32, 32, 32), (64, 64, 64),
                                                  (64, 64, 64))))
        stride = 2**(stages - 1)
        return cfg['sparse_shape'][1] // stride, cfg['sparse_shape'][2] // stride
    return None


def head_map_shape(cfg: dict) -> Optional[Shape]:
    """``(ny, nx)`` of a dense head's maps from its ``train_cfg`` grid and output stride."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'grid_size' not in train_cfg:
        return None
    grid = HeadGrid.from_cfg(train_cfg)
    return grid.ny, grid.nx


def check_bev_grids(view_transform: Optional[dict], pts_middle_encoder: Optional[dict],
                    pts_backbone: Optional[dict], pts_neck: Optional[dict],
                    bbox_head: Optional[dict]) -> Shape:
    """Raises ConfigMismatchError (a ``ValueError``) naming both shapes when two BEV maps of
    a config disagree.

    Returns:
        ``(ny, nx)`` of the fused BEV map.
    """
    shapes = {}
    if view_transform is not None:
        shapes['camera BEV (view_transform xbound/ybound/downsample)'] = \
            camera_bev_shape(view_transform)
    if pts_middle_encoder is not None:
        lidar = lidar_bev_shape(pts_middle_encoder)
        if lidar is not None:
            shapes['LiDAR BEV (pts_middle_encoder)'] = lidar
    (name, fused), *others = shapes.items()
    for other_name, other in others:
        if other != fused:
            raise ConfigMismatchError(f'BEV grids do not match: {name} is {fused} (ny, nx) but '
                             f'{other_name} is {other}')
    if pts_backbone is not None and bbox_head is not None:
        stride = pts_backbone.get('layer_strides', [2])[0]
        up = (pts_neck or {}).get('upsample_strides', [1])[0]
        decoded = (int(fused[0] * up / stride), int(fused[1] * up / stride))
        head = head_map_shape(bbox_head)
        if head is not None and head != decoded:
            raise ConfigMismatchError(
                f'BEV grids do not match: the decoder outputs {decoded} (ny, nx) from the fused '
                f'BEV {fused} (layer_strides[0]={stride}, upsample_strides[0]={up}) but '
                f'bbox_head train_cfg grid_size/out_size_factor give {head}')
    return fused
