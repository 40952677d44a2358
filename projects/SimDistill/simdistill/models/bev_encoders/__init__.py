from .deformable_attention import CPUKernelDeformableAttention
from .geometry_compensation import ConvGeometryCompensation, DeformableGeometryCompensation

__all__ = ['CPUKernelDeformableAttention', 'ConvGeometryCompensation',
           'DeformableGeometryCompensation']
