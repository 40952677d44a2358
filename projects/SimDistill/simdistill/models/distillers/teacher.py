"""The frozen teacher: built from its own config, loaded strictly, never trained."""
from typing import Mapping, Union

from mmdet3d.registry import MODELS
from mmengine.config import Config
from torch import Tensor, nn

from ...checkpoint.loading import load_checkpoint_file
from ...errors import CheckpointMismatchError
from ...model_conversion import refuse_upstream_layout
from ...checkpoint.state_dicts import plain_state_dict


def teacher_model_cfg(config: Union[str, Mapping]) -> dict:
    """The ``model`` dict of a teacher: a config file's, or the dict itself."""
    if isinstance(config, str):
        return Config.fromfile(config).model
    return dict(config)


def check_state_dict_matches(model: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Raises naming every missing, unexpected and mis-shaped key (all at once).

    Raises:
        CheckpointMismatchError: (a ``KeyError``) the model and the state dict disagree.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model '
                       f'{tuple(expected[k].shape)}' for k in set(state) & set(expected)
                       if state[k].shape != expected[k].shape)
    if missing or unexpected or misshaped:
        def listed(keys):
            return ', '.join(keys[:20]) + (f' (+{len(keys) - 20} more)' if len(keys) > 20 else '')
        raise CheckpointMismatchError(
            f'{source} does not match the teacher: {len(missing)} missing [{listed(missing)}], '
            f'{len(unexpected)} unexpected [{listed(unexpected)}], {len(misshaped)} mis-shaped '
            f'[{listed(misshaped)}]')


def load_teacher_weights(model: nn.Module, filename: str) -> None:
    """Loads ``filename`` (``weights_only``, allow-listed) into ``model`` strictly."""
    state = plain_state_dict(load_checkpoint_file(filename, map_location='cpu'), filename)
    refuse_upstream_layout(state, source=filename)
    check_state_dict_matches(model, state, filename)
    model.load_state_dict(state, strict=True)


def freeze(model: nn.Module) -> nn.Module:
    """No gradients, eval mode (BN statistics and dropout fixed)."""
    for param in model.parameters():
        param.requires_grad_(False)
    return model.eval()


def build_frozen_teacher(config: Union[str, Mapping], checkpoint: str) -> nn.Module:
    """Builds the teacher, loads ``checkpoint`` strictly and freezes it.

    The model's own ``init_weights`` is never called: every tensor comes from the checkpoint
    (a ``Pretrained`` backbone init would otherwise re-read ImageNet weights over it).
    """
    if not checkpoint:
        raise ValueError('the distiller needs teacher_ckpt: a trained teacher checkpoint')
    model = MODELS.build(teacher_model_cfg(config))
    load_teacher_weights(model, checkpoint)
    return freeze(model)

