from .drawing import plot_bev, project_corners, save_sample_figure
from .samples import camera_names, network_images, save_prediction_figure

__all__ = [
    'camera_names', 'network_images', 'plot_bev', 'project_corners', 'save_prediction_figure',
    'save_sample_figure'
]
