"""Shared pytest fixtures."""
import importlib.util
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec('simdistill') is None:  # not installed yet: test the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'projects' / 'SimDistill'))


@pytest.fixture(scope='session')
def synthetic_nuscenes_root(tmp_path_factory) -> Path:
    """Dataroot of a small synthetic nuScenes v1.0-mini (10 scenes x 4 samples, 320x180
    images, 2 sweeps between key frames, every scene downtown at clutter 1 in the standard
    palette), generated once per test session. Its generation settings are in
    ``<root>/synthetic_nuscenes.json``."""
    from simdistill.datasets.synthetic_nuscenes import (SyntheticNuScenesConfig,
                                                        generate_synthetic_nuscenes)
    # .../data/nuscenes: the layout mmdet3d's converter needs (see nuscenes_infos below).
    root = tmp_path_factory.mktemp('synthetic_nuscenes') / 'data' / 'nuscenes'
    # One pinned style, not the default per-scene mix: the training floors measured on this
    # fixture stay valid (test_synthetic_nuscenes.py checks the default world itself).
    config = SyntheticNuScenesConfig(
        samples_per_scene=4, image_scale=0.2, seed=0, sweeps_per_sample=2,
        city_layout='downtown', clutter_density=1.0, colour_palette='standard')
    generate_synthetic_nuscenes(root, config, progress=False)
    return root


@pytest.fixture(scope='session')
def nuscenes_infos(synthetic_nuscenes_root) -> dict:
    """mmdet3d info pkls of the synthetic data, made by mmdet3d's own converter (once).

    Returns:
        dict: ``train``/``val`` -> pkl path, and ``root`` -> the dataroot (with a trailing /).
    """
    from simdistill.utils.nuscenes_infos import create_nuscenes_infos
    infos = create_nuscenes_infos(str(synthetic_nuscenes_root), 'v1.0-mini', max_sweeps=2,
                                  verbose=False)
    return dict(infos, root=str(synthetic_nuscenes_root) + '/')


@pytest.fixture(scope='session')
def image_pretrain(nuscenes_infos, tmp_path_factory) -> str:
    """An image backbone + neck pre-trained for one epoch by tools/pretrain_image_backbone.py
    on the synthetic training images (what every CPU camera config starts from)."""
    import sys
    from e2e_helpers import BASELINE, run
    out = str(tmp_path_factory.mktemp('pretrain') / 'backbone.pth')
    run([sys.executable, 'tools/pretrain_image_backbone.py', BASELINE, '--out', out,
         '--epochs', '1', '--cfg-options',
         f'train_dataloader.dataset.data_root={nuscenes_infos["root"]}'])
    return out


@pytest.fixture(scope='session')
def trained_teacher(nuscenes_infos, image_pretrain, tmp_path_factory) -> str:
    """Work dir of the CPU teacher trained for one epoch (16 iterations, seed 0) by
    tools/train.py on the synthetic data (``epoch_1.pth``, each iteration's losses and the
    devkit metrics in its logs)."""
    import sys
    from e2e_helpers import CPU_TEACHER, data_options, pretrain_options, run
    work_dir = str(tmp_path_factory.mktemp('teacher'))
    run([
        sys.executable, 'tools/train.py', CPU_TEACHER, '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', *data_options(nuscenes_infos),
        *pretrain_options(image_pretrain),
        # every iteration's own losses in the logs (test_train_test_e2e holds them to a floor)
        'default_hooks.logger.interval=1', 'log_processor.window_size=1', 'randomness.seed=0'
    ])
    return work_dir
