from .bevfusion import BEVFusionDetector
from .simdistill_student import SimDistillStudent

__all__ = ['BEVFusionDetector', 'SimDistillStudent']
