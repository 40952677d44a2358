"""Helpers of the end-to-end tests: running the tools on the synthetic data."""
import os.path as osp
import subprocess

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CPU_TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'
BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
LIDAR_ONLY = 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'


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


def pretrain_options(checkpoint, prefix='model'):
    """``--cfg-options`` pointing a CPU model's image backbone and neck init at
    ``checkpoint`` (``prefix``: where the camera model sits, e.g. ``model.student``)."""
    return [f'{prefix}.{part}.init_cfg.checkpoint={checkpoint}'
            for part in ('img_backbone', 'img_neck')]


def drop_image_pretrain(model_cfg):
    """Random image backbone and neck (no pre-trained file needed) in a model config, the
    student of a distiller config included."""
    for cfg in (model_cfg, model_cfg.get('student') or {}):
        for part in ('img_backbone', 'img_neck'):
            if cfg.get(part) is not None:
                cfg[part]['init_cfg'] = None
    return model_cfg
