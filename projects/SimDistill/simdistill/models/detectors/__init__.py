from .bevfusion import BEVFusion
from .grid_check import check_bev_grids
from .simdistill_student import SimDistillStudent

__all__ = ['BEVFusion', 'SimDistillStudent', 'check_bev_grids']
