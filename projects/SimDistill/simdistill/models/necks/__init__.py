from .lss_fpn import LSSFPNNeck

__all__ = ['LSSFPNNeck']
