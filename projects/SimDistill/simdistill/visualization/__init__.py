from .drawing import plot_bev, project_corners, save_sample_figure

__all__ = ['plot_bev', 'project_corners', 'save_sample_figure']
