"""Model parts SimDistill adds to mmdet3d (registered on import)."""
from . import dense_heads  # noqa: F401  (registers TransFusionHead)
from .bev_encoders import ConvGeometryCompensation, DeformableGeometryCompensation
from .detectors import BEVFusion, SimDistillStudent, check_bev_grids
from .distillers import SimDistill
from .fusers import ConvFuser
from .necks import LSSFPNNeck
from .view_transforms import LSSViewTransform

__all__ = [
    'BEVFusion', 'ConvFuser', 'ConvGeometryCompensation', 'DeformableGeometryCompensation',
    'LSSFPNNeck', 'LSSViewTransform', 'SimDistill', 'SimDistillStudent', 'check_bev_grids'
]
