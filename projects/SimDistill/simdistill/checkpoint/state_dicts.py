"""State dicts as plain, checked mappings of tensors, with torch's per-module metadata kept."""
from collections import OrderedDict
from typing import Mapping

from torch import Tensor


def select_prefix(state: Mapping[str, Tensor], prefix: str) -> 'OrderedDict[str, Tensor]':
    """The entries under ``prefix`` (e.g. ``'student.'``) with the prefix removed.

    torch keeps each module's state-dict version in ``state._metadata``; mmdet3d's spconv 2
    layers read it to tell their kernel layout from spconv 1's, so it is carried over (its
    keys re-rooted the same way) instead of being lost in a copy.
    """
    out = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:
        root = prefix.rstrip('.')
        out._metadata = OrderedDict(
            ('' if k == root else k[len(prefix):], v) for k, v in metadata.items()
            if k == root or k.startswith(prefix))
    return out


def plain_state_dict(checkpoint: object, filename: str) -> 'OrderedDict[str, Tensor]':
    """The tensors of a checkpoint: its ``state_dict`` (runner checkpoints) or itself, without
    a DDP ``module.`` prefix.

    Raises:
        TypeError: it is not a mapping of names to tensors (names the file and the key).
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(state, Mapping):
        raise TypeError(f'{filename}: expected a state dict (or a dict with "state_dict"), got '
                        f'{type(checkpoint).__name__}')
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise TypeError(f'{filename}: {key!r} is a {type(value).__name__}, not a tensor')
    if state and all(k.startswith('module.') for k in state):  # saved from a DDP wrapper
        return select_prefix(state, 'module.')
    return select_prefix(state, '')
