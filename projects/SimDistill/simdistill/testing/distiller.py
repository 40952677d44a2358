"""The CPU distiller at test size: a teacher that looks trained (random weights, real BN
statistics), the distiller built around its checkpoint, and a batch for the teacher's config.
``MODELS`` builds in mmdet3d's scope: the tests set it (``init_default_scope('mmdet3d')``)."""
import torch
from mmengine.config import Config

from mmdet3d.registry import MODELS
from .batches import random_batch
from .configs import drop_image_pretrain
from .paths import DISTILLER, TEACHER

HALF = 51.2  # the CPU grid's half extent, metres


def trained_looking_teacher(seed=0):
    """The CPU teacher with random weights and non-trivial BN statistics (a few train-mode
    forwards), in eval mode."""
    torch.manual_seed(seed)
    teacher = MODELS.build(drop_image_pretrain(Config.fromfile(TEACHER).model))
    teacher.init_weights()
    teacher.train()
    with torch.no_grad():
        for i in range(2):
            batch = teacher.data_preprocessor(random_batch(Config.fromfile(TEACHER), HALF,
                                                           seed=10 + i), True)
            teacher.extract_feat(batch['inputs'], [s.metainfo for s in batch['data_samples']])
    return teacher.eval()


def distiller_cfg(teacher_ckpt, **model_overrides):
    cfg = Config.fromfile(DISTILLER)
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.model.update(model_overrides)
    drop_image_pretrain(cfg.model)
    return cfg


def build_distiller(teacher_ckpt, **model_overrides):
    torch.manual_seed(1)
    model = MODELS.build(distiller_cfg(teacher_ckpt, **model_overrides).model)
    model.init_weights()
    return model


def teacher_batch(seed=0):
    return random_batch(Config.fromfile(TEACHER), HALF, seed=seed)
