"""Multi-scale deformable attention with a compiled CPU kernel (forward and backward).

Importing this package compiles nothing; the kernel is built on first use (see
:mod:`.extension`) and mmcv's pure-PyTorch path takes over if that fails.
"""
from .api import (extension_status, kernel_applies, kernel_available,
                  multi_scale_deformable_attn)

__all__ = ['extension_status', 'kernel_applies', 'kernel_available',
           'multi_scale_deformable_attn']
