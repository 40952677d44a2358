"""End to end on the synthetic data: tools/train.py trains the CPU teacher for an epoch and
evaluates it with NuScenesMetric; the saved checkpoint loads (weights_only) into tools/test.py
and into `mim test mmdet3d`."""
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from e2e_helpers import CPU_TEACHER, ROOT, data_options, run
from simdistill.utils.metric_logs import read_nuscenes_metrics

pytestmark = pytest.mark.slow
TEACHER = CPU_TEACHER


def test_training_saves_a_checkpoint_and_evaluates_with_the_devkit(trained_teacher):
    ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    metrics = read_nuscenes_metrics(trained_teacher)
    assert 0.0 <= metrics['mAP'] <= 1.0 and 0.0 <= metrics['NDS'] <= 1.0
    assert osp.isfile(ckpt)


def test_checkpoint_loads_into_tools_test_with_weights_only(trained_teacher, nuscenes_infos):
    ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    # The runner's checkpoint holds numpy objects: plain torch.load refuses it...
    plain = subprocess.run([sys.executable, '-c', f'import torch; torch.load({ckpt!r})'],
                           capture_output=True, text=True)
    assert plain.returncode != 0 and 'weights_only' in plain.stderr.replace('\n', ' ')
    # ...and tools/test.py loads it with the plugin's allow-list, safe loading kept on.
    work_dir = osp.join(trained_teacher, 'test')
    out = run([
        sys.executable, 'tools/test.py', TEACHER, ckpt, '--work-dir', work_dir,
        '--cfg-options', *data_options(nuscenes_infos)
    ])
    assert 'mAP:' in out and 'NDS:' in out
    assert 0.0 <= read_nuscenes_metrics(work_dir)['NDS'] <= 1.0


@pytest.mark.skipif(shutil.which('mim') is None, reason='openmim is not installed')
def test_mim_test_runs_the_plugin_config(trained_teacher, nuscenes_infos):
    ckpt = osp.join(trained_teacher, 'epoch_1.pth')
    out = run([
        'mim', 'test', 'mmdet3d', TEACHER, '--checkpoint', ckpt, '--work-dir',
        osp.join(trained_teacher, 'mim_test'), '--cfg-options', *data_options(nuscenes_infos)
    ])
    assert 'NDS:' in out


def test_visualize_draws_cameras_and_bev(trained_teacher, nuscenes_infos, tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, TEACHER))
    cfg.merge_from_dict(
        dict(option.split('=', 1) for option in data_options(nuscenes_infos)
             if 'test_dataloader.dataset.data_root' in option))
    config = str(tmp_path / 'teacher.py')
    cfg.dump(config)
    out_dir = tmp_path / 'pictures'
    run([
        sys.executable, 'tools/visualize.py', config,
        osp.join(trained_teacher, 'epoch_1.pth'), '--out-dir', str(out_dir), '--num-samples', '2'
    ])
    pngs = sorted(out_dir.glob('*.png'))
    assert len(pngs) == 2
    from PIL import Image
    with Image.open(pngs[0]) as image:
        assert image.size[0] > 1000  # six cameras beside the BEV plot
