"""Reading checkpoints: weights-only loading with the runner allow-list (:mod:`.loading`) and
state dicts as plain, checked mappings of tensors (:mod:`.state_dicts`). Importing it changes
nothing outside the plugin (mmengine's loader is replaced only by
:func:`simdistill.compat.apply_all`)."""
from .loading import checkpoint_safe_globals, load_checkpoint_file
from .state_dicts import plain_state_dict, select_prefix

__all__ = ['checkpoint_safe_globals', 'load_checkpoint_file', 'plain_state_dict', 'select_prefix']
