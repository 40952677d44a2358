"""The main job in its reduced mode (QUICK=1): every stage runs end to end into its own work
folder and writes report.md with the devkit's numbers, the pictures and the loss curves."""
import json
import os
import re
import subprocess

import pytest

from simdistill.testing import ROOT

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
    assert {'train teacher', 'train camera_baseline', 'train simdistill', 'test simdistill'} <= set(times)
    # a second run finds every output and skips the stages
    proc = subprocess.run(['bash', 'tools/run_pipeline.sh'], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'simdistill: trained' in proc.stdout and 'simdistill: evaluated' in proc.stdout
