"""Helpers shared by the test suite (``tests/``), as mmdet3d keeps its own in
``mmdet3d.testing``: what more than one test module needs lives here, not in a test module
that others import.

For tests only: nothing in the plugin imports this package. Its modules import no pytest where
they can (a failed check is a plain ``assert``, which pytest rewrites: ``tests/conftest.py``
registers this package for assertion rewriting). The helpers assume a checkout, as the tests
do: :data:`ROOT` is the repository root found from this package's location, and the configs
and tools they name are read from there.

* :mod:`.paths`: the repository root and the CPU configs.
* :mod:`.e2e`: running the tools on the synthetic data (the command runner, ``--cfg-options``,
  a model's untrained weights as a checkpoint).
* :mod:`.configs`: model configs at test size.
* :mod:`.batches`: random camera rigs, augmentations and model batches.
* :mod:`.distiller`: a trained-looking CPU teacher and the distiller built on it.
* :mod:`.runners`: a tiny mmengine runner.
* :mod:`.inputs`: point files, images, info samples and the dataset, as the loaders see them.
* :mod:`.predictions`: comparing BEV maps and predicted boxes of two runs.
"""
from .batches import camera_rig, random_batch, random_img_aug, random_lidar_aug, rot_z
from .configs import drop_image_pretrain, shrink_paper_config
from .distiller import (HALF, build_distiller, distiller_cfg, teacher_batch,
                        trained_looking_teacher)
from .e2e import data_options, pretrain_options, run, save_untrained_checkpoint
from .inputs import (CAMERAS, COMMON, LOAD_DIM, build_dataset, camera_results, info_sample,
                     load_images, load_points, load_sweep, nuscenes_metainfo)
from .paths import (BASELINE, CPU_DISTILLER, CPU_STUDENT, CPU_TEACHER, DISTILLER, LIDAR_ONLY,
                    ROOT, STUDENT, TEACHER)
from .predictions import (RAW_RTOL, assert_maps_close, assert_same_boxes, box_values,
                          match_box_values)
from .runners import TinyModel, make_runner

__all__ = [
    'ROOT', 'CPU_TEACHER', 'BASELINE', 'LIDAR_ONLY', 'CPU_STUDENT', 'CPU_DISTILLER', 'TEACHER',
    'STUDENT', 'DISTILLER', 'data_options', 'run', 'pretrain_options', 'drop_image_pretrain',
    'shrink_paper_config', 'rot_z', 'camera_rig', 'random_img_aug', 'random_lidar_aug',
    'random_batch', 'HALF', 'trained_looking_teacher', 'distiller_cfg', 'build_distiller',
    'teacher_batch', 'TinyModel', 'make_runner', 'COMMON', 'CAMERAS', 'LOAD_DIM', 'load_points',
    'load_sweep', 'camera_results', 'load_images', 'info_sample', 'nuscenes_metainfo',
    'build_dataset', 'RAW_RTOL', 'assert_maps_close', 'box_values', 'assert_same_boxes',
    'match_box_values'
]
