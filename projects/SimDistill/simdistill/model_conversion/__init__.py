"""Converters from other releases' weights to this project's models."""
from .mmdet3d_bevfusion import (CONVERTER, convert_mmdet3d_bevfusion,
                                looks_like_upstream_bevfusion, refuse_upstream_layout)

__all__ = [
    'CONVERTER', 'convert_mmdet3d_bevfusion', 'looks_like_upstream_bevfusion',
    'refuse_upstream_layout'
]
