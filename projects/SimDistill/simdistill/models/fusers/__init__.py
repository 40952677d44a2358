from .conv_fuser import BEVConvFuser

__all__ = ['BEVConvFuser']
