"""Model parts SimDistill adds to mmdet3d (registered on import)."""
from . import dense_heads  # noqa: F401  (registers TransFusionHead)
from .detectors import BEVFusion, check_bev_grids
from .fusers import ConvFuser
from .view_transforms import LSSViewTransform

__all__ = [
    'BEVFusion', 'ConvFuser', 'LSSViewTransform', 'check_bev_grids'
]
