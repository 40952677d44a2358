"""Model parts SimDistill adds to mmdet3d (registered on import)."""
from . import dense_heads  # noqa: F401  (registers BEVTransFusionHead)
from .bev_encoders import (BEVConvEncoder, ConvGeometryCompensation,
                           DeformableGeometryCompensation)
from .detectors import BEVFusionDetector, SimDistillStudent
from .distillers import SimDistill
from .fusers import BEVConvFuser
from .necks import LSSFPNNeck
from .view_transforms import LSSViewTransform

__all__ = [
    'BEVConvEncoder', 'BEVConvFuser', 'BEVFusionDetector', 'ConvGeometryCompensation',
    'DeformableGeometryCompensation',
    'LSSFPNNeck', 'LSSViewTransform', 'SimDistill', 'SimDistillStudent'
]
