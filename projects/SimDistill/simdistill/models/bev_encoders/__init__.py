from .bev_conv_encoder import BEVConvEncoder
from .geometry_compensation import ConvGeometryCompensation, DeformableGeometryCompensation

__all__ = ['BEVConvEncoder', 'ConvGeometryCompensation', 'DeformableGeometryCompensation']
