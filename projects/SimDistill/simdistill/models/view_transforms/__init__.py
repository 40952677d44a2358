from .frustum import frustum_to_lidar, make_frustum
from .lss import LSSViewTransform, project_points, stack_camera_matrices

__all__ = [
    'LSSViewTransform', 'frustum_to_lidar',
    'make_frustum', 'project_points', 'stack_camera_matrices'
]
