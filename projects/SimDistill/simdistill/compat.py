"""Shims that make the 2024 OpenMMLab stack run on torch 2.13.

Each shim names the upstream versions it is written for and is applied once, when
``simdistill`` is imported (``custom_imports`` in every config does that before the runner
loads a checkpoint). Every shim is idempotent and narrow: none switches a safety check off.

1. Checkpoint loading (mmengine 0.10.7, torch >= 2.6; mmengine issue #1655). torch loads with
   ``weights_only=True`` by default and mmengine calls ``torch.load`` without the argument, so a
   checkpoint saved by mmengine's runner -- its message hub holds ``HistoryBuffer`` objects
   with numpy arrays -- fails to load. We allow-list exactly the globals such a checkpoint
   holds. One of them is ``builtins.getattr``, which pickle uses for the ``HistoryBuffer``
   statistics methods (``getattr(HistoryBuffer, 'min')``); instead of allowing ``getattr`` in
   general we map that name to a function that only resolves ``HistoryBuffer`` methods. A
   checkpoint holding anything else is refused with an error naming the file and the global.
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
import pickle
import re
from typing import Any, Callable, List, Tuple, Union

import torch

logger = logging.getLogger(__name__)

_APPLIED = set()


# --------------------------------------------------------------------------------------------
# 1. checkpoints
# --------------------------------------------------------------------------------------------
def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer`` methods, for the weights-only unpickler.

    Raises:
        pickle.UnpicklingError: for any other object or a private name.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and callable(
            getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights-only load: getattr({obj!r}, {name!r}) is not allowed; only HistoryBuffer '
        'statistics methods are')


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals an mmengine-runner checkpoint may hold, for ``add_safe_globals``.

    Returns:
        list: classes/functions (and one ``(function, qualified name)`` pair) to allow.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer
    multiarray = np.core.multiarray if hasattr(np, 'core') else np._core.multiarray
    dtype_classes = {
        type(np.dtype(t))
        for t in ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
                  'uint64', 'float16', 'float32', 'float64')
    }
    return [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        *sorted(dtype_classes, key=lambda c: c.__name__),
    ]


def load_checkpoint_file(filename: str, map_location: Any = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and errors that name the file.

    Args:
        filename (str): path of the checkpoint.
        map_location: as for :func:`torch.load`.

    Returns:
        The unpickled checkpoint (usually a dict).

    Raises:
        MissingFileError: the file does not exist.
        UnsafeCheckpointError: the file holds an object outside the allow-list (the message
            names the object's type).
        CorruptFileError: the file is truncated or not a torch checkpoint.
    """
    import os.path as osp
    from .errors import CorruptFileError, MissingFileError, UnsafeCheckpointError
    if not osp.isfile(filename):
        raise MissingFileError(f'checkpoint file not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL ([\w.]+)', str(err))
        what = f'an object of type {found.group(1)}' if found else f'an object ({err})'
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename!r} with weights_only=True: it holds {what} '
            'outside the allow-list of simdistill.compat. Load it only if you trust its '
            'source, e.g. re-save its state_dict.') from err
    except (EOFError, KeyError, RuntimeError) as err:
        # A truncated zip (RuntimeError from the stream reader), a truncated or foreign legacy
        # pickle (EOFError, KeyError on the magic number); other RuntimeErrors are not ours.
        if isinstance(err, RuntimeError) and 'PytorchStreamReader' not in str(err):
            raise
        raise CorruptFileError(f'checkpoint {filename!r} is truncated or not a torch '
                               f'checkpoint: {type(err).__name__}: {err}') from err


def patch_checkpoint_loading() -> None:
    """Allow-lists runner checkpoints and routes mmengine's local loader through
    :func:`load_checkpoint_file` (mmengine 0.10.7; torch >= 2.6)."""
    if 'checkpoint' in _APPLIED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    torch.serialization.add_safe_globals(checkpoint_safe_globals())

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename: str, map_location: Any = None) -> Any:
        import os.path as osp
        return load_checkpoint_file(osp.expanduser(filename), map_location)

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
    """Applies every shim above (idempotent)."""
    patch_checkpoint_loading()
    patch_spconv_cpu_stream()
    patch_cpu_distributed_init()


apply_all()
