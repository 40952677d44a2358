"""The SimDistill distiller and its losses (registered on import)."""
from .bev_mask import gt_heatmap_mask
from .simdistill import SimDistill, split_student_state
from .student_export import export_student_weights
from .teacher import build_frozen_teacher, check_state_dict_matches

__all__ = [
    'SimDistill', 'build_frozen_teacher', 'check_state_dict_matches', 'export_student_weights',
    'gt_heatmap_mask', 'split_student_state'
]
