"""Data structures every layer shares (``ops`` and ``models`` import them, never the reverse)."""
from .bev_grid import (BEVGrid, HeadGrid, camera_bev_shape, check_bev_grids, head_map_shape,
                       lidar_bev_shape)

__all__ = [
    'BEVGrid', 'HeadGrid', 'camera_bev_shape', 'check_bev_grids', 'head_map_shape',
    'lidar_bev_shape'
]
