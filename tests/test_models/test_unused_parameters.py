"""Every trainable parameter of the CPU models takes part in the training loss, which is what
lets the runtime run DDP with ``find_unused_parameters=False`` (DDP would otherwise hang or
fail at the first step with a parameter that never receives a gradient)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from simdistill.testing import CPU_TEACHER, ROOT, drop_image_pretrain

CONFIGS = {
    'teacher': CPU_TEACHER,
    'lidar_only': 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py',
    'camera_baseline': 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py',
    'student': 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py',
    'distiller': 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py',
}


def test_the_runtime_does_not_search_for_unused_parameters():
    cfg = Config.fromfile(osp.join(ROOT, CPU_TEACHER))
    assert cfg.model_wrapper_cfg.find_unused_parameters is False


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_every_trainable_parameter_gets_a_gradient(name, nuscenes_infos, tmp_path):
    import simdistill  # noqa: F401
    from mmdet3d.registry import DATASETS, MODELS
    from simdistill.models.distillers.teacher import teacher_model_cfg
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[name]))
    model_cfg = drop_image_pretrain(cfg.model)
    if model_cfg.type == 'SimDistill':  # a saved random teacher stands in for a trained one
        teacher = MODELS.build(drop_image_pretrain(teacher_model_cfg(model_cfg.teacher)))
        model_cfg.teacher_ckpt = str(tmp_path / 'teacher.pth')
        torch.save(teacher.state_dict(), model_cfg.teacher_ckpt)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = nuscenes_infos['root']
    dataset = DATASETS.build(dataset_cfg)
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), training=True)
    loss, _ = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
    loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    unused = [n for n, p in trainable if p.grad is None]
    assert not unused, f'{name}: parameters outside the loss: {unused}'
