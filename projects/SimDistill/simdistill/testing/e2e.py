"""Running the tools end to end on the synthetic data: the command runner and the
``--cfg-options`` that point a config at a test's data and pre-trained image backbone."""
import subprocess

import torch

from .paths import ROOT


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


def save_untrained_checkpoint(config: str, path: str, seed: int = 0) -> None:
    """The weights ``config``'s model starts training from (built and ``init_weights`` with
    torch seeded by ``seed``), saved as a runner checkpoint's ``state_dict``."""
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
