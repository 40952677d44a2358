"""The BEV pool's compiled kernels: ``src/`` built lazily by :mod:`simdistill.ops.lazy_extension`.

Nothing here runs at import time. The first call of :func:`load_extension` (or :func:`build`)
compiles ``src/`` into ``<cache root>/bev_pool-<torch>-<cpu|cuda>-<hash>`` and registers the
operators under ``torch.ops.simdistill_bev_pool_{cpu,cuda}``; see the shared module for the
cache, the build lock and the fallback rules. Two variants exist: ``cpu`` (C++/OpenMP) and
``cuda`` (the same plus the CUDA kernels). :func:`load_ops` is what the kernels' callers use:
after a failed build it warns once per process and returns None so that the caller falls back
to the pure-PyTorch implementation (9-22x slower), unless ``$SIMDISTILL_REQUIRE_COMPILED_OPS``
is set: then it raises, naming why the kernels are missing.

The functions below act on :data:`EXTENSION`, looked up at every call (tests swap it for a
fresh one).
"""
from pathlib import Path
from typing import Any, Dict, Optional

from ..lazy_extension import (ARCH_ENV, BUILD_LOCK, CACHE_ENV, REQUIRE_ENV,  # noqa: F401
                              TORCH_BATON, VERBOSE_ENV, CompiledOpsUnavailableError,
                              LazyExtension, build_lock, compiled_ops_required, cuda_arch_list,
                              cuda_buildable)

SOURCE_DIR = Path(__file__).resolve().parent / 'src'
CPU_SOURCES = ('bev_pool.cpp', )
CUDA_SOURCES = ('bev_pool.cpp', 'bev_pool_cuda.cu')

EXTENSION = LazyExtension('bev_pool', 'BEV pool', SOURCE_DIR, CPU_SOURCES, CUDA_SOURCES,
                          namespace_macro='SIMDISTILL_BEV_POOL_NS', fallback='9-22x slower')


def variant_name(cuda: bool) -> str:
    """Library and ``torch.ops`` namespace name of a variant."""
    return EXTENSION.variant_name(cuda)


def _build_args(cuda: bool) -> Dict[str, Any]:
    return EXTENSION.build_args(cuda)


def build_directory(cuda: bool, args: Optional[Dict[str, Any]] = None) -> Path:
    """Folder the variant is built in: ``<cache root>/bev_pool-<torch>-<variant>-<hash>``."""
    return EXTENSION.build_directory(cuda, args)


def load_extension(cuda: bool = False, verbose: Optional[bool] = None) -> Any:
    """Builds if needed and loads the kernels; raises if that fails.

    Args:
        cuda: load the CUDA variant (CPU + CUDA kernels) rather than the CPU-only one.
        verbose: print the compiler output (default: ``$SIMDISTILL_OPS_VERBOSE``).

    Returns:
        The ``torch.ops`` namespace holding ``fused_forward``, ``fused_backward_depth``,
        ``fused_backward_feat``, ``interval_forward`` and ``interval_backward``.
    """
    return EXTENSION.load(cuda, verbose)


def build(cuda: Optional[bool] = None, verbose: bool = True) -> Path:
    """Compiles the kernels now (for install scripts) and returns the build folder."""
    return EXTENSION.build(cuda, verbose)


def load_ops(cuda: bool) -> Optional[Any]:
    """The kernels, or None (warning once) when they do not build and the fallback is allowed.

    Raises:
        CompiledOpsUnavailableError: on failure when :func:`compiled_ops_required`.
    """
    return EXTENSION.load_or_fallback(cuda)


def status() -> Dict[str, str]:
    """``{'cpu': ..., 'cuda': ...}``: 'loaded', 'failed: <why>' or 'not loaded'."""
    return EXTENSION.status()
