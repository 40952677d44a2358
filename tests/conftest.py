"""Shared pytest fixtures, and the rule that a claim is never skipped silently.

Under ``CI=true`` or ``SIMDISTILL_NO_SKIPS=1`` (``tools/run_tests.sh`` sets it) a skipped test
fails, and so does a test module skipped at collection (``pytest.importorskip``), unless the
test is marked ``cuda`` (it needs a CUDA device, which a CPU machine cannot give it). A test
whose input went missing then says so instead of passing unseen.

The session runs the way configs run: :func:`simdistill.compat.apply_all` applies the plugin's
torch 2.13 shims once, here, as ``simdistill.compat.enable`` in a config's ``custom_imports``
does (importing ``simdistill`` alone applies none; tests/test_checkpoint/test_compat.py checks
both in fresh interpreters).

The helpers that more than one test module needs live in :mod:`simdistill.testing` (and the
generator's in :mod:`synthetic_nuscenes.testing`); the test modules import none from each other.
"""
import importlib.util
import os
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec('simdistill') is None:  # not installed yet: test the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'projects' / 'SimDistill'))

# The shared test helpers' asserts report their values as the tests' own do (imported later).
pytest.register_assert_rewrite('simdistill.testing', 'synthetic_nuscenes.testing')

from simdistill.compat import apply_all  # noqa: E402

apply_all()


def skips_are_errors() -> bool:
    """Whether this run refuses skips (``CI=true`` or ``SIMDISTILL_NO_SKIPS`` set, not 0)."""
    return (os.environ.get('CI', '').lower() == 'true'
            or os.environ.get('SIMDISTILL_NO_SKIPS', '0') not in ('', '0'))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _fail_the_skip(report, what: str) -> None:
    report.outcome = 'failed'
    report.longrepr = (f'{what} skipped ({_skip_reason(report)}), and skips are errors in this '
                       'run (CI=true or SIMDISTILL_NO_SKIPS): only tests marked cuda may skip')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and not hasattr(report, 'wasxfail') and skips_are_errors()
            and item.get_closest_marker('cuda') is None):
        _fail_the_skip(report, 'test')


_SKIPPED_MODULES = []  # (node id, reason) of modules skipped at collection


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A failed collect report would interrupt the whole session: the module's skip is
    # recorded instead, and the session fails at its end (pytest_sessionfinish).
    outcome = yield
    report = outcome.get_result()
    if report.skipped and skips_are_errors():
        _SKIPPED_MODULES.append((collector.nodeid, _skip_reason(report)))


def pytest_terminal_summary(terminalreporter):
    for nodeid, reason in _SKIPPED_MODULES:
        terminalreporter.write_line(
            f'FAILED {nodeid}: skipped at collection ({reason}), and skips are errors in this '
            'run (CI=true or SIMDISTILL_NO_SKIPS)', red=True)


def pytest_sessionfinish(session, exitstatus):
    if _SKIPPED_MODULES and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope='session')
def synthetic_nuscenes_root(tmp_path_factory) -> Path:
    """Dataroot of a small synthetic nuScenes v1.0-mini (10 scenes x 4 samples, 320x180
    images, 2 sweeps between key frames, every scene downtown at clutter 1 in the standard
    palette), generated once per test session. Its generation settings are in
    ``<root>/synthetic_nuscenes.json``."""
    from synthetic_nuscenes import (SyntheticNuScenesConfig,
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
    from simdistill.datasets.nuscenes_infos import create_nuscenes_infos
    infos = create_nuscenes_infos(str(synthetic_nuscenes_root), 'v1.0-mini', max_sweeps=2,
                                  verbose=False)
    return dict(infos, root=str(synthetic_nuscenes_root) + '/')


@pytest.fixture(scope='session')
def image_pretrain(nuscenes_infos, tmp_path_factory) -> str:
    """An image backbone + neck pre-trained for one epoch by tools/pretrain_image_backbone.py
    on the synthetic training images (what every CPU camera config starts from)."""
    import sys
    from simdistill.testing import BASELINE, run
    out = str(tmp_path_factory.mktemp('pretrain') / 'backbone.pth')
    run([sys.executable, 'tools/pretrain_image_backbone.py', BASELINE, '--out', out,
         '--epochs', '1', '--cfg-options',
         f'train_dataloader.dataset.data_root={nuscenes_infos["root"]}'])
    return out


@pytest.fixture(scope='session')
def fitted_lidar_model(nuscenes_infos, tmp_path_factory) -> dict:
    """The CPU LiDAR-only model trained by tools/train.py for 200 iterations (50 epochs of
    the 8 ``mini_val`` samples, batch 2, seed 0) on those samples without its BEV
    augmentation (random rotations and flips would make 200 iterations too few to fit), and
    scored on them by NuScenesMetric after the last epoch.

    Returns ``dict(config=..., work_dir=..., checkpoint=<work_dir>/epoch_50.pth)``; the
    config is the one trained (augmentation removed)."""
    import sys
    from simdistill.testing import LIDAR_ONLY, ROOT, data_options, run
    sys.path.insert(0, os.path.join(ROOT, 'tools', 'benchmarks'))
    from distill_gain import schedule_options
    from overfit_check import with_augmentations
    tmp_path = tmp_path_factory.mktemp('lidar_fit')
    config = with_augmentations(LIDAR_ONLY, 'none', str(tmp_path))
    work_dir = str(tmp_path / 'work')
    epochs = 50
    run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.ann_file={nuscenes_infos["val"]}',
        *schedule_options(epochs), 'default_hooks.checkpoint.interval=1000',  # last one only
        'randomness.seed=0',
        *data_options(nuscenes_infos)
    ])
    return dict(config=config, work_dir=work_dir,
                checkpoint=os.path.join(work_dir, f'epoch_{epochs}.pth'))


@pytest.fixture(scope='session')
def trained_teacher(nuscenes_infos, image_pretrain, tmp_path_factory) -> str:
    """Work dir of the CPU teacher trained for one epoch (16 iterations, seed 0) by
    tools/train.py on the synthetic data (``epoch_1.pth``, each iteration's losses and the
    devkit metrics in its logs)."""
    import sys
    from simdistill.testing import CPU_TEACHER, data_options, pretrain_options, run
    work_dir = str(tmp_path_factory.mktemp('teacher'))
    run([
        sys.executable, 'tools/train.py', CPU_TEACHER, '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', *data_options(nuscenes_infos),
        *pretrain_options(image_pretrain),
        # every iteration's own losses in the logs (test_train_test_e2e holds them to a floor)
        'default_hooks.logger.interval=1', 'log_processor.window_size=1', 'randomness.seed=0'
    ])
    return work_dir
