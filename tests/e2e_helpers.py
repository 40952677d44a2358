"""Helpers of the end-to-end tests: running the tools on the synthetic data."""
import os.path as osp
import subprocess

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CPU_TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'


def data_options(infos):
    """``--cfg-options`` pointing every loader and evaluator at the test's synthetic data."""
    root = infos['root']
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.append(f'{loader}.dataset.data_root={root}')
        options.append(f'{loader}.num_workers=0')
        options.append(f'{loader}.persistent_workers=False')
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options.append(f'{evaluator}.data_root={root}')
        options.append(f'{evaluator}.ann_file={infos["val"]}')
    return options


def run(args, cwd=ROOT):
    """Runs a command; fails the test with the end of its output when it fails."""
    proc = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout
