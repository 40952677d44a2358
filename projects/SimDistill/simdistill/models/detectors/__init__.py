from .bevfusion import BEVFusionDetector
from .grid_check import check_bev_grids
from .simdistill_student import SimDistillStudent

__all__ = ['BEVFusionDetector', 'SimDistillStudent', 'check_bev_grids']
