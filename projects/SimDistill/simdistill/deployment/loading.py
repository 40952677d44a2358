"""Building a deployable model and its test data from a config, for the deployment tools."""
from typing import Optional, Sequence, Tuple

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmdet3d.registry import DATASETS, MODELS

__all__ = ['DictAction', 'build_model_and_dataset', 'load_config']


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """The config with ``--cfg-options`` merged and its default scope set."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    return cfg


def build_model_and_dataset(cfg: Config, checkpoint: Optional[str] = None) -> Tuple:
    """The model (eval mode, CPU; weights from ``checkpoint`` loaded strictly, or none: the
    runner path needs only its geometry and decoding) and the config's test dataset.

    No ``init_weights`` runs, so no pre-trained file is read. ``checkpoint`` is read by
    mmengine's ``load_checkpoint``: weights-only with the runner allow-list once the shims are
    applied (a config naming ``simdistill.compat.enable``, as :func:`load_config` reads it, or
    ``simdistill.compat.apply_all()``; the deployment tools call it).
    """
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        try:
            load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        except RuntimeError as err:
            if 'student.' in str(err):
                raise RuntimeError(
                    f'{checkpoint} is a SimDistill (distiller) checkpoint: export the student '
                    'first with tools/model_converters/export_student.py CKPT student.pth'
                ) from err
            raise
    return model.eval(), DATASETS.build(cfg.test_dataloader.dataset)
