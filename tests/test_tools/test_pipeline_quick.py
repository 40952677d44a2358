"""The main job in its reduced mode (QUICK=1): every stage runs end to end into its own work
folder and writes report.md with the devkit's numbers, the pictures and the loss curves; the
data, the teacher's two stages and the recipes are the benchmark's."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools'))
from make_report import train_seconds  # noqa: E402

pytestmark = pytest.mark.slow


def test_quick_main_job_writes_the_report(tmp_path):
    work = tmp_path / 'quick'
    env = dict(os.environ, QUICK='1', WORK_DIR=str(work))
    proc = subprocess.run(['bash', 'tools/run_pipeline.sh'], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]
    report = (work / 'report.md').read_text()
    # one metrics row per model, filled with the devkit's numbers (four decimals)
    for model in ('teacher', 'camera_baseline', 'simdistill'):
        row = re.search(rf'^\| {model} \| 1 \| (\d\.\d{{4}}) \| (\d\.\d{{4}}) \|', report, re.M)
        assert row, f'no metrics row for {model}:\n{report[:2000]}'
        assert 0.0 <= float(row.group(1)) <= 1.0
    assert re.search(r'mAP difference SimDistill − camera baseline: [+-]\d+\.\d points \(one '
                     r'seed of one of them: no spread measured, not a gain yet\)', report)
    assert 'QUICK=1' in report
    assert '| pedestrian |' in report  # the per-class table
    pictures = sorted((work / 'report').glob('compare_*.png'))
    assert len(pictures) == 3 and all(p.stat().st_size > 50_000 for p in pictures)
    assert (work / 'report' / 'student_losses.png').stat().st_size > 10_000
    for png in re.findall(r'\]\((report/[^)]+\.png)\)', report):
        assert (work / png).is_file(), png
    times = json.loads((work / 'times.json').read_text())
    assert {'train teacher_lidar', 'train teacher', 'train camera_baseline', 'train simdistill',
            'test simdistill'} <= set(times)
    # the benchmark's release layout, its two-stage teacher, its recipes and its score threshold
    assert (work / 'data' / 'nuscenes' / 'v1.0-trainval' / 'sample.json').is_file()
    teacher = dumped_config(work / 'teacher')
    assert teacher.load_from == str(work / 'teacher_lidar' / 'epoch_1.pth')
    assert teacher.optim_wrapper.paramwise_cfg.custom_keys.img_backbone.lr_mult == 0.1
    assert teacher.train_dataloader.dataset.metainfo.version == 'v1.0-trainval'
    for name, key in (('camera_baseline', 'model'), ('simdistill', 'student')):
        cfg = dumped_config(work / name)
        backbone = (cfg.model if key == 'model' else cfg.model.student).img_backbone
        assert (backbone.frozen_stages, backbone.norm_eval) == (4, True), name
    tested = dumped_config(work / 'simdistill' / 'test')
    assert tested.model.bbox_head.test_cfg.score_threshold == 0.001
    # a second run finds every output and skips the stages
    proc = subprocess.run(['bash', 'tools/run_pipeline.sh'], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'simdistill: trained' in proc.stdout and 'simdistill: evaluated' in proc.stdout


def dumped_config(work_dir) -> Config:
    """The config a tools/train.py or tools/test.py run dumped into its work folder."""
    paths = glob.glob(str(work_dir / '*.py'))
    assert len(paths) == 1, paths
    return Config.fromfile(paths[0])


def test_report_counts_a_models_earlier_training_stages():
    times = {'setup': 9.0, 'train teacher_lidar': 120.0, 'train teacher': 60.0,
             'test teacher': 5.0, 'train camera_baseline': 30.0}
    assert train_seconds(times, 'teacher') == 180.0
    assert train_seconds(times, 'camera_baseline') == 30.0
    assert train_seconds(times, 'simdistill') == 0.0
