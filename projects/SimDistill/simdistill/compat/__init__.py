"""Shims that make the 2024 OpenMMLab stack run on torch 2.13, applied only when asked for.

Importing ``simdistill`` (or any of its modules, this one included) changes nothing outside the
plugin. The shims change mmengine and spconv for the whole process, so they are an explicit
step of whoever owns the process:

* a config: ``custom_imports = dict(imports=['simdistill', 'simdistill.compat.enable'], ...)``
  (``configs/_base_/default_runtime.py``; :mod:`simdistill.compat.enable` calls
  :func:`apply_all` when imported);
* a script: ``from simdistill.compat import apply_all; apply_all()`` before it builds a runner
  or calls mmengine's ``load_checkpoint`` (``tools/train.py`` and ``tools/test.py`` do).

Each shim names the upstream versions it is written for. Every shim is idempotent and narrow:
none switches a safety check off.

1. Checkpoint loading (mmengine 0.10.7, torch >= 2.6; mmengine issue #1655): mmengine's loader
   of local files becomes :func:`simdistill.checkpoint.loading.load_checkpoint_file`, which
   loads with ``weights_only=True`` and the allow-list a runner checkpoint needs (scoped to
   that load; torch's process-wide list is not changed). A checkpoint holding anything else is
   refused with an error naming the file and the global. The project's own readers call
   ``load_checkpoint_file`` directly and need no shim.
2. spconv CPU stream (spconv 2.3.x CPU build, torch CPU build): ``get_current_stream`` asks
   torch for the current CUDA stream, which fails on CPU-only torch; on CPU the stream handle
   is meaningless, so it returns 0 there.
3. DDP on CPU (mmengine 0.10.7): the PyTorch launcher calls ``torch.cuda.set_device``
   before ``init_process_group`` whatever the backend; without CUDA it is skipped (gloo), and
   nccl is refused with a message.

No shim changes what an upstream model computes: the CenterHead initialisation that mmdet3d
1.4 gets wrong is the project's own head (``PriorInitCenterHead``), not a patch.
"""
import logging

import torch

logger = logging.getLogger(__name__)

_APPLIED = set()


# --------------------------------------------------------------------------------------------
# 1. checkpoints
# --------------------------------------------------------------------------------------------
def patch_checkpoint_loading() -> None:
    """Routes mmengine's local loader through ``load_checkpoint_file`` (mmengine 0.10.7; torch
    >= 2.6; see :mod:`simdistill.checkpoint.loading`)."""
    if 'checkpoint' in _APPLIED:
        return
    from ..checkpoint.loading import register_local_loader
    register_local_loader()
    _APPLIED.add('checkpoint')


# --------------------------------------------------------------------------------------------
# 2. spconv on CPU
# --------------------------------------------------------------------------------------------
def patch_spconv_cpu_stream() -> None:
    """Makes spconv's CUDA-stream lookup return 0 when torch has no CUDA (spconv 2.3.x)."""
    if 'spconv' in _APPLIED or torch.cuda.is_available():
        return
    try:
        import spconv.pytorch as spconv_pytorch  # noqa: F401  (loads the submodules below)
        from spconv.pytorch import cppcore
    except ImportError:
        return
    import sys

    def get_current_stream() -> int:
        return 0

    # spconv's modules import the function by name, so rebind it wherever it was imported.
    original = cppcore.get_current_stream
    for name, module in list(sys.modules.items()):
        if name.startswith('spconv') and getattr(module, 'get_current_stream',
                                                 None) is original:
            module.get_current_stream = get_current_stream
    _APPLIED.add('spconv')


# --------------------------------------------------------------------------------------------
# 3. DDP on CPU
# --------------------------------------------------------------------------------------------
def patch_cpu_distributed_init() -> None:
    """Lets mmengine's PyTorch launcher initialise ``gloo`` on a CPU-only torch (0.10.7)."""
    if 'dist' in _APPLIED or torch.cuda.is_available():
        return
    from mmengine.dist import utils
    original = utils._init_dist_pytorch

    def _init_dist_pytorch(backend, *args, **kwargs) -> None:
        if backend == 'nccl':
            raise ValueError('the nccl backend needs CUDA; on CPU set '
                             'env_cfg.dist_cfg.backend=gloo (tools/dist_train.sh does)')
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None
        try:
            original(backend, *args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    utils._init_dist_pytorch = _init_dist_pytorch
    _APPLIED.add('dist')


def apply_all() -> None:
    """Applies every shim above, process-wide (idempotent: a second call changes nothing)."""
    patch_checkpoint_loading()
    patch_spconv_cpu_stream()
    patch_cpu_distributed_init()
