"""Converters from other releases' weights to this project's models."""
from .mit_han_lab_bevfusion import (convert_mit_han_lab_bevfusion, is_mit_han_lab_bevfusion,
                                    rename_mit_han_lab_key)
from .mmdet3d_bevfusion import (CONVERTER, convert_mmdet3d_bevfusion,
                                looks_like_upstream_bevfusion, refuse_upstream_layout)

__all__ = [
    'CONVERTER', 'convert_mit_han_lab_bevfusion', 'convert_mmdet3d_bevfusion',
    'is_mit_han_lab_bevfusion', 'looks_like_upstream_bevfusion', 'refuse_upstream_layout',
    'rename_mit_han_lab_key'
]
