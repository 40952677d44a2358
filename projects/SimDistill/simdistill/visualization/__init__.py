from .drawing import plot_bev, project_corners, save_sample_figure
from .samples import save_prediction_figure

__all__ = ['plot_bev', 'project_corners', 'save_prediction_figure', 'save_sample_figure']
