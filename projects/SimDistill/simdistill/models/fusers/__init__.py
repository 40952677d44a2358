from .conv_fuser import ConvFuser

__all__ = ['ConvFuser']
