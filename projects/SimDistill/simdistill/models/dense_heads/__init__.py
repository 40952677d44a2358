"""Detection heads (TransFusion-style; CenterHead with CenterPoint's init) and their task
utilities (registered on import)."""
from .bbox_coder import TransFusionBoxCoder
from .center_head import PriorInitCenterHead
from .heatmap_targets import gaussian_heatmap_targets
from .match_costs import BEVCenterL1Cost, BoxIoU3DCost
from .positional_encoding import LearnedBEVPositionalEncoding
from .proposals import heatmap_peaks, topk_peaks
from .transfusion_head import BEVTransFusionHead, gravity_to_boxes

__all__ = [
    'BEVCenterL1Cost', 'BoxIoU3DCost', 'LearnedBEVPositionalEncoding',
    'PriorInitCenterHead', 'TransFusionBoxCoder', 'BEVTransFusionHead', 'gaussian_heatmap_targets',
    'gravity_to_boxes', 'heatmap_peaks', 'topk_peaks'
]
