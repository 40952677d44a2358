"""The paper configs' optimisation recipe, checked against the published one computed another
way: mmcv 1.x's cyclic lr/momentum (what BEVFusion and SimDistill trained with) written out
in float64, and the parameter groups a Swin-T camera backbone must get."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

CONFIGS = 'configs/bevfusion/'
TEACHER = CONFIGS + 'bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py'
FUSION_TEACHER = CONFIGS + 'bevfusion_lidar-cam_swint-voxel0075-transfusion_8xb4-cyclic-20e_nus-3d.py'
LIDAR_ONLY = CONFIGS + 'bevfusion_lidar_voxel0075_8xb4-cyclic-20e_nus-3d.py'
DISTILLER = 'configs/simdistill/simdistill_swint_8xb3-acc2-cyclic-20e_nus-3d.py'


def annealing_cos(start: float, end: float, factor: float) -> float:
    """mmcv 1.x's ``annealing_cos``: cosine from ``start`` (factor 0) to ``end`` (factor 1)."""
    return end + (start - end) / 2 * (math.cos(math.pi * factor) + 1)


def mmcv1_cyclic(it: int, total: int, base: float, target_ratio, step_ratio_up=0.4) -> float:
    """mmcv 1.x ``CyclicLrUpdaterHook``/``CyclicMomentumUpdaterHook`` (one cycle) at ``it``."""
    up = int(step_ratio_up * total)
    if it < up:
        return annealing_cos(base, base * target_ratio[0], it / up)
    return annealing_cos(base * target_ratio[0], base * target_ratio[1], (it - up) / (total - up))


class _Tiny(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.img_backbone = torch.nn.Module()
        self.img_backbone.stage = torch.nn.Linear(2, 2)
        self.img_backbone.relative_position_bias_table = torch.nn.Parameter(torch.zeros(3, 2))
        self.pts_backbone = torch.nn.Linear(2, 2)


def run_schedule(config: str, epoch_length: int):
    """Steps the config's schedulers as mmengine's ParamSchedulerHook does; returns per-iteration
    ``(lr, beta1)`` of the non-backbone parameter group and the number of epochs."""
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(config)
    wrapper_cfg = cfg.optim_wrapper.copy()
    wrapper_cfg.type = 'OptimWrapper'  # AMP needs CUDA; the schedule does not depend on it
    wrapper_cfg.pop('accumulative_counts', None)
    model = _Tiny()
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    schedulers = [
        PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper, epoch_length=epoch_length))
        for s in cfg.param_scheduler
    ]
    group = next(g for g in wrapper.optimizer.param_groups
                 if any(p is model.pts_backbone.weight for p in g['params']))
    trace = []
    for _ in range(cfg.train_cfg.max_epochs):
        for _ in range(epoch_length):
            trace.append((group['lr'], group['betas'][0]))
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    return trace, cfg


@pytest.mark.parametrize('config', [TEACHER, LIDAR_ONLY, DISTILLER])
def test_cyclic_20e_is_mmcv1_cyclic(config):
    epoch_length = 25
    trace, cfg = run_schedule(config, epoch_length)
    base_lr = cfg.optim_wrapper.optimizer.lr
    total = len(trace)
    assert total == 20 * epoch_length
    for it, (lr, beta1) in enumerate(trace):
        assert lr == pytest.approx(mmcv1_cyclic(it, total, base_lr, (10, 1e-4)), rel=1e-3)
        assert beta1 == pytest.approx(mmcv1_cyclic(it, total, 0.9, (0.85 / 0.95, 1)), rel=1e-4)
    betas = [b for _, b in trace]
    # beta1 comes back to 0.9: mmdet3d 1.x's absolute targets drive it to 1.0
    assert max(betas) == pytest.approx(0.9) and betas[-1] == pytest.approx(0.9, abs=1e-4)
    assert min(betas) == pytest.approx(0.9 * 0.85 / 0.95, rel=1e-4)


def test_lidar_only_stage_runs_at_1e_4_and_fusion_stage_at_2e_4():
    assert Config.fromfile(LIDAR_ONLY).optim_wrapper.optimizer.lr == 1e-4
    assert Config.fromfile(FUSION_TEACHER).optim_wrapper.optimizer.lr == 2e-4


def test_fusion_stage_is_bevfusions_warmup_cosine_6e():
    """Stage 2 of the teacher: mmcv 1.x CosineAnnealing(min_lr_ratio=1e-3) per epoch, linear
    warm-up over 500 iterations from lr / 3, cyclic momentum over the 6 epochs."""
    epoch_length = 600
    trace, cfg = run_schedule(FUSION_TEACHER, epoch_length)
    base = 2e-4
    total = len(trace)
    assert total == 6 * epoch_length
    for it, (lr, beta1) in enumerate(trace):
        regular = annealing_cos(base, base * 1e-3, (it // epoch_length) / 6)
        if it < 500:
            regular *= 1 - (1 - it / 500) * (1 - 1 / 3)
        assert lr == pytest.approx(regular, rel=1e-6), it
        assert beta1 == pytest.approx(mmcv1_cyclic(it, total, 0.9, (0.85 / 0.95, 1)), rel=1e-4)


@pytest.mark.parametrize('config', [TEACHER, DISTILLER])
def test_swin_backbone_gets_a_tenth_of_the_lr_and_no_decay_on_position_tables(config):
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(config)
    wrapper_cfg = cfg.optim_wrapper.copy()
    wrapper_cfg.type = 'OptimWrapper'
    wrapper_cfg.pop('accumulative_counts', None)
    model = _Tiny()
    if config == DISTILLER:  # the distiller's trainable parameters sit under student.*
        outer = torch.nn.Module()
        outer.student = model
        model = outer
    groups = build_optim_wrapper(model, wrapper_cfg).optimizer.param_groups
    base_lr, decay = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    by_param = {id(p): g for g in groups for p in g['params']}
    inner = model.student if config == DISTILLER else model
    table = by_param[id(inner.img_backbone.relative_position_bias_table)]
    stage = by_param[id(inner.img_backbone.stage.weight)]
    lidar = by_param[id(inner.pts_backbone.weight)]
    assert (table['lr'], table['weight_decay']) == (pytest.approx(base_lr / 10), 0.0)
    assert (stage['lr'], stage['weight_decay']) == (pytest.approx(base_lr / 10), decay)
    assert (lidar['lr'], lidar['weight_decay']) == (base_lr, decay)
