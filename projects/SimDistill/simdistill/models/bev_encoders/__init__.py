from .geometry_compensation import ConvGeometryCompensation, DeformableGeometryCompensation

__all__ = ['ConvGeometryCompensation', 'DeformableGeometryCompensation']
