"""Reading checkpoints weights-only, with the allow-list a runner checkpoint needs.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7 calls ``torch.load``
without the argument (mmengine issue #1655), so a checkpoint saved by mmengine's runner -- its
message hub holds ``HistoryBuffer`` objects with numpy arrays -- fails to load. We allow-list
exactly the globals such a checkpoint holds, for each load only (``torch.serialization
.safe_globals`` around it; torch's process-wide list is never touched). One of them is
``builtins.getattr``, which pickle uses for the ``HistoryBuffer`` statistics methods
(``getattr(HistoryBuffer, 'min')``); instead of allowing ``getattr`` in general we map that name
to a function that only resolves ``HistoryBuffer`` methods. A checkpoint holding anything else is
refused with an error naming the file and the global.

The project's own readers call :func:`load_checkpoint_file`. mmengine's readers (``load_from``,
``resume``, ``init_cfg=dict(type='Pretrained')``, ``load_checkpoint``) go through it once
:func:`register_local_loader` has made it mmengine's loader of local files; that is one of the
shims :func:`simdistill.compat.apply_all` applies (``simdistill.compat.enable`` in a config's
``custom_imports``), never an import side effect.
"""
import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Tuple, Union

import torch


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
    """The globals an mmengine-runner checkpoint may hold (for ``torch.serialization
    .safe_globals``).

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

    The allow-list (:func:`checkpoint_safe_globals`) is in force for this load only
    (``torch.serialization.safe_globals``): torch's process-wide list is left as it is.

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
    from ..errors import CorruptFileError, MissingFileError, UnsafeCheckpointError
    if not osp.isfile(filename):
        raise MissingFileError(f'checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL ([\w.]+)', str(err))
        what = f'an object of type {found.group(1)}' if found else f'an object ({err})'
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename!r} with weights_only=True: it holds {what} '
            'outside the allow-list of simdistill.checkpoint.loading. Load it only if you '
            'trust its source, e.g. re-save its state_dict.') from err
    except (EOFError, KeyError, RuntimeError) as err:
        # A truncated zip (RuntimeError from the stream reader), a truncated or foreign legacy
        # pickle (EOFError, KeyError on the magic number); other RuntimeErrors are not ours.
        if isinstance(err, RuntimeError) and 'PytorchStreamReader' not in str(err):
            raise
        raise CorruptFileError(f'checkpoint {filename!r} is truncated or not a torch '
                               f'checkpoint: {type(err).__name__}: {err}') from err


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's loader of local files (scheme prefix ``''``) as :func:`load_checkpoint_file`,
    with ``~`` expanded as mmengine's own loader does."""
    return load_checkpoint_file(osp.expanduser(filename), map_location)


def register_local_loader() -> None:
    """Makes :func:`load_from_local` mmengine's loader of local files (mmengine 0.10.7; torch
    >= 2.6), replacing mmengine's own, for the whole process. Registering it again is a no-op.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
