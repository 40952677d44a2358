from .bev_conv_encoder import BEVConvEncoder
from .deformable_attention import CPUKernelDeformableAttention
from .geometry_compensation import ConvGeometryCompensation, DeformableGeometryCompensation

__all__ = ['BEVConvEncoder', 'CPUKernelDeformableAttention', 'ConvGeometryCompensation',
           'DeformableGeometryCompensation']
