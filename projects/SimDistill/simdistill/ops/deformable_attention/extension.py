"""The deformable attention's compiled CPU kernels, built lazily (see :mod:`..lazy_extension`).

``src/ms_deform_attn.cpp`` is compiled on first use (``-O3 -fopenmp -march=native`` on x86-64
Linux, the build folder then depending on the CPU) into
``<cache root>/deformable_attention-<torch>-cpu-<hash>`` and registers
``torch.ops.simdistill_deformable_attention_cpu.{forward,backward}``. There is no CUDA variant:
on CUDA mmcv's own kernel runs.
"""
from pathlib import Path

from ..lazy_extension import LazyExtension

SOURCE_DIR = Path(__file__).resolve().parent / 'src'

EXTENSION = LazyExtension(
    'deformable_attention', 'deformable attention', SOURCE_DIR, ('ms_deform_attn.cpp', ), (),
    namespace_macro='SIMDISTILL_MSDA_NS',
    fallback="mmcv's grid_sample path, several times slower",
    native=True)  # about 25% faster forward, 13% backward with the CPU's vector width
