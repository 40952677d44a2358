from .bevfusion import BEVFusion
from .grid_check import check_bev_grids

__all__ = ['BEVFusion', 'check_bev_grids']
