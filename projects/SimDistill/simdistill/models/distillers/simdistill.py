"""SimDistill: the frozen LiDAR + camera teacher distilled into the camera-only student."""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
from mmdet3d.models import Base3DDetector
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample
from torch import Tensor, nn

from ...engine.gradient_diagnostics import GradientDiagnosticsMixin
from ...engine.non_finite import NamesNonFiniteLosses
from ...errors import ConfigMismatchError
from ...ops.bev_pool import BEVPoolPlanCache
from ...checkpoint.state_dicts import select_prefix
from ...structures.bev_grid import check_bev_grids, head_map_shape
from ..detectors.bevfusion import BEV_MAPS
from ..view_transforms import LSSViewTransform
from .bev_mask import gt_heatmap_mask
from .prediction_adapters import TeacherPredictionAdapter, build_prediction_adapter
from .prediction_distill import HEATMAP_AVERAGES, heatmap_distill_loss, regression_distill_loss
from .teacher import build_frozen_teacher, teacher_model_cfg

FEATURE_TERMS = {  # loss name -> (student feature, teacher feature)
    'camera': ('camera_bev', 'camera_bev'),
    'lidar': ('sim_lidar_bev', 'lidar_bev'),
    'fused': ('fused_bev', 'fused_bev'),
}
MASKS = (None, 'gt_heatmap')
MASKED_AVERAGES = ('cells', 'mask_sum')
# The paper's loss settings (Sec. 3.3; the release's config agrees): the defaults.
MSE_1 = dict(type='mmdet.MSELoss', loss_weight=1.0)
MSE_100 = dict(type='mmdet.MSELoss', loss_weight=100.0)
QFL = dict(type='mmdet.QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=0.25)
SMOOTH_L1 = dict(type='mmdet.SmoothL1Loss', beta=1.0 / 9, loss_weight=0.25)


class _Hidden:
    """Holds a module out of ``nn.Module``'s sight: not a child, so not in ``parameters()``,
    ``state_dict()``, the optimizer, DDP or SyncBN conversion."""
    __slots__ = ('module', )

    def __init__(self, module: nn.Module) -> None:
        self.module = module


@MODELS.register_module()
class SimDistill(NamesNonFiniteLosses, GradientDiagnosticsMixin, Base3DDetector):
    """Trains a :class:`SimDistillStudent` against a frozen BEVFusion teacher.

    Every training step runs the teacher (points + images, under ``no_grad``, in ``eval()``)
    and the student (images only) on the same batch and adds to the student's detection loss

    - ``loss_distill_camera``: MSE(student camera BEV, teacher camera BEV) (intra-modal);
    - ``loss_distill_lidar``: MSE(adapter(simulated-LiDAR BEV) x M, teacher LiDAR BEV x M),
      M the ground-truth Gaussian heatmap on the BEV grid (cross-modal, region-aware);
    - ``loss_distill_fused``: MSE(student fused BEV, teacher fused BEV) (multi-modal);
    - ``loss_distill_heatmap`` / ``loss_distill_reg``: per head task, QFL between the student's
      heatmap logits and the teacher's probabilities (sigmoid applied once), and Smooth-L1 on
      box regressions at the real ground-truth centres (no padded slots).

    Every target is detached. Where the authors' release departs from the paper, this follows
    the paper: separate view transforms (student config), images only for the student, a
    strictly loaded and fully frozen teacher (fuser included), sigmoid once, no padded slots.
    The release's choices that are not flaws are options: ``feature_masks`` (which terms use M).

    The teacher is not a child module: it is never saved, optimised, wrapped by DDP or touched
    by ``init_weights``; a resumed run rebuilds it from ``teacher_ckpt``. ``predict`` runs the
    student alone.

    Args:
        student: the student's model config (``SimDistillStudent``).
        teacher: the teacher's model config, or the path of its config file.
        teacher_ckpt: the trained teacher's checkpoint (loaded strictly, ``weights_only``).
        lidar_adapter: maps the simulated-LiDAR BEV to the teacher's LiDAR-BEV width
            (``BEVConvFuser([C_cam], C_lidar)``); belongs to the distiller, not the student.
        loss_distill_camera, loss_distill_lidar, loss_distill_fused: mmdet loss configs
            (``mmdet.MSELoss``; weights 1, 100, 1 by default), or None to drop the term.
        loss_distill_heatmap: ``mmdet.QualityFocalLoss`` config (beta 2, weight 0.25), or None.
        loss_distill_reg: ``mmdet.SmoothL1Loss`` config (beta 1/9, weight 0.25), or None (it
            needs a CenterHead teacher).
        feature_masks: per feature term (``camera``, ``lidar``, ``fused``): ``'gt_heatmap'``
            or None; by default only ``lidar`` is masked (region-aware).
        mask_cfg: ``gaussian_overlap`` and ``min_radius`` (cells) of the mask's Gaussians.
        class_names: the dataset's classes in label order (a TransFusion teacher's classes).
        data_preprocessor: defaults to the teacher's (it voxelizes the points, when a batch
            has them).
        share_plan: the teacher's camera LSS and the student's transforms share one BEV-pool
            plan per batch (one plan build instead of three).
        masked_average: how a masked feature term is averaged: ``'cells'`` (MSE's mean over
            every element, masked ones included: the release) or ``'mask_sum'`` (the squared
            error summed and divided by ``C x sum(M)``: the mean over the masked region, so
            the term does not shrink with the share of empty road).
        heatmap_average: ``'cells'`` (the release) or ``'teacher_positive'``: see
            :func:`heatmap_distill_loss`.
        init_student_from_teacher: student submodules (e.g. ``('pts_backbone', 'pts_neck',
            'bbox_head')``) that start from the teacher's weights instead of their own init.
            Not in the paper (an option for short schedules); the shapes must match.
    """

    def __init__(self,
                 student: dict,
                 teacher: Union[str, dict],
                 teacher_ckpt: str,
                 lidar_adapter: Optional[dict] = None,
                 loss_distill_camera: Optional[dict] = MSE_1,
                 loss_distill_lidar: Optional[dict] = MSE_100,
                 loss_distill_fused: Optional[dict] = MSE_1,
                 loss_distill_heatmap: Optional[dict] = QFL,
                 loss_distill_reg: Optional[dict] = SMOOTH_L1,
                 feature_masks: Optional[Mapping[str, Optional[str]]] = None,
                 mask_cfg: Optional[dict] = None,
                 class_names: Optional[Sequence[str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 share_plan: bool = True,
                 masked_average: str = 'cells',
                 heatmap_average: str = 'cells',
                 init_student_from_teacher: Sequence[str] = (),
                 init_cfg: Optional[dict] = None) -> None:
        teacher_cfg = teacher_model_cfg(teacher)
        super().__init__(data_preprocessor=data_preprocessor or teacher_cfg['data_preprocessor'],
                         init_cfg=init_cfg)
        self.check_compatible(student, teacher_cfg)
        self.student = MODELS.build(student)
        self._teacher = _Hidden(build_frozen_teacher(teacher_cfg, teacher_ckpt))
        self.teacher_ckpt = teacher_ckpt
        self.lidar_adapter = MODELS.build(lidar_adapter) if lidar_adapter else None
        build_loss = lambda cfg: MODELS.build(cfg) if cfg else None  # noqa: E731
        self.feature_losses = nn.ModuleDict({
            name: build_loss(cfg) for name, cfg in (
                ('camera', loss_distill_camera), ('lidar', loss_distill_lidar),
                ('fused', loss_distill_fused)) if cfg
        })
        if 'lidar' in self.feature_losses and self.lidar_adapter is None:
            raise ValueError('loss_distill_lidar needs lidar_adapter (simulated-LiDAR BEV -> '
                             'the teacher LiDAR-BEV width)')
        self.loss_heatmap = build_loss(loss_distill_heatmap)
        self.loss_reg = build_loss(loss_distill_reg)
        self.feature_masks = dict(camera=None, lidar='gt_heatmap', fused=None)
        self.feature_masks.update(feature_masks or {})
        for name, mask in self.feature_masks.items():
            if name not in FEATURE_TERMS or mask not in MASKS:
                raise ValueError(f'feature_masks[{name!r}]={mask!r}: terms are '
                                 f'{list(FEATURE_TERMS)}, masks {list(MASKS)}')
        self.mask_cfg = dict(gaussian_overlap=0.1, min_radius=2, **(mask_cfg or {}))
        if masked_average not in MASKED_AVERAGES:
            raise ValueError(f'masked_average must be one of {MASKED_AVERAGES}, got '
                             f'{masked_average!r}')
        self.masked_average = masked_average
        if heatmap_average not in HEATMAP_AVERAGES:
            raise ValueError(f'heatmap_average must be one of {HEATMAP_AVERAGES}, got '
                             f'{heatmap_average!r}')
        self.heatmap_average = heatmap_average
        self.init_student_from_teacher = tuple(init_student_from_teacher)
        for name in self.init_student_from_teacher:
            for model, role in ((self.student, 'student'), (self.teacher, 'teacher')):
                if not isinstance(getattr(model, name, None), nn.Module):
                    raise ValueError(f'init_student_from_teacher: the {role} has no module '
                                     f'{name!r}')
        student_tasks = student['bbox_head']['tasks']
        self.prediction_adapter: TeacherPredictionAdapter = build_prediction_adapter(
            teacher_cfg.get('bbox_head'), student_tasks, class_names,
            regression=self.loss_reg is not None)
        self.num_classes = sum(len(t['class_names']) for t in student_tasks)
        if share_plan:
            self.share_plan_cache()

    # ---------------------------------------------------------------------------------------
    # the teacher
    # ---------------------------------------------------------------------------------------
    @property
    def teacher(self) -> nn.Module:
        return self._teacher.module

    @property
    def teacher_head(self) -> str:
        """The teacher head's kind (``'center'``, ``'transfusion'``), for logs and checks."""
        return self.prediction_adapter.name

    def train(self, mode: bool = True) -> 'SimDistill':
        super().train(mode)
        self.teacher.eval()  # BN statistics and dropout of the teacher never change
        return self

    def init_weights(self) -> None:
        super().init_weights()
        for name in self.init_student_from_teacher:
            source = getattr(self.teacher, name).state_dict()
            target = getattr(self.student, name)
            mismatched = [k for k, v in target.state_dict().items()
                          if k in source and source[k].shape != v.shape]
            if mismatched:
                raise ConfigMismatchError(f'init_student_from_teacher: {name} differs between '
                                          f'student and teacher at {mismatched[:5]}')
            target.load_state_dict(source)  # strict: the same module structure

    def _apply(self, fn, *args, **kwargs):
        # .to() / .cuda() / .float() must move the hidden teacher with the student.
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def share_plan_cache(self) -> None:
        """One BEV-pool plan cache for every LSS of teacher and student.

        A plan is keyed by the frustum, the grid and the camera matrices, so transforms with
        the same geometry reuse one plan per batch and different ones never mix.
        """
        transforms = [m for m in (*self.student.modules(), *self.teacher.modules())
                      if isinstance(m, LSSViewTransform)]
        cache = BEVPoolPlanCache(maxsize=2)
        for transform in transforms:
            transform.plan_cache = cache

    @staticmethod
    def check_compatible(student: dict, teacher: dict) -> None:
        """Teacher and student must share the fused-BEV grid and the head's map grid."""
        def grids(cfg):
            fused = check_bev_grids(cfg.get('view_transform'), cfg.get('pts_middle_encoder'),
                                    cfg.get('pts_backbone'), cfg.get('pts_neck'),
                                    cfg.get('bbox_head'))
            return fused, head_map_shape(cfg['bbox_head'])
        (s_bev, s_head), (t_bev, t_head) = grids(student), grids(teacher)
        if s_bev != t_bev:
            raise ConfigMismatchError(f'BEV grids do not match: the student fused BEV is {s_bev} '
                                      f'(ny, nx) but the teacher fused BEV is {t_bev}')
        if s_head != t_head:
            raise ConfigMismatchError(f'head grids do not match: the student head maps are '
                                      f'{s_head} (ny, nx) but the teacher head maps are {t_head}')

    # ---------------------------------------------------------------------------------------
    # losses
    # ---------------------------------------------------------------------------------------
    @staticmethod
    def student_inputs(batch_inputs_dict: dict) -> dict:
        """The images alone: the student never receives points."""
        return {'imgs': batch_inputs_dict['imgs']}

    @torch.no_grad()
    def teacher_outputs(self, batch_inputs_dict: dict, metas: List[dict]) -> dict:
        feats = self.teacher.extract_bev_features(batch_inputs_dict, metas)
        feats['preds'] = self.teacher.bbox_head(feats['decoder'])
        return feats

    def feature_distill_losses(self, student: dict, teacher: dict,
                               batch_gt_instances_3d) -> Dict[str, Tensor]:
        losses, mask = {}, None
        for name, loss_fn in self.feature_losses.items():
            s_key, t_key = FEATURE_TERMS[name]
            s_feat, t_feat = student[s_key], teacher[t_key].detach()
            if name == 'lidar':
                s_feat = self.lidar_adapter([s_feat])
            if s_feat.shape != t_feat.shape:
                raise ValueError(f'loss_distill_{name}: student {s_key} {tuple(s_feat.shape)} '
                                 f'vs teacher {t_key} {tuple(t_feat.shape)}')
            if self.feature_masks[name] == 'gt_heatmap':
                if mask is None:
                    grid = self.student.view_transform.map_grid
                    mask = gt_heatmap_mask(batch_gt_instances_3d, grid, self.num_classes,
                                           **self.mask_cfg).to(s_feat)
                s_feat, t_feat = s_feat * mask, t_feat * mask
                if self.masked_average == 'mask_sum':
                    avg_factor = (mask.sum() * s_feat.shape[1]).clamp(min=1)
                    losses[f'loss_distill_{name}'] = loss_fn(s_feat, t_feat,
                                                             avg_factor=avg_factor)
                    continue
            losses[f'loss_distill_{name}'] = loss_fn(s_feat, t_feat)
        return losses

    def prediction_distill_losses(self, s_preds, t_preds,
                                  batch_gt_instances_3d) -> Dict[str, Tensor]:
        """The heatmap and box-regression terms, the teacher's outputs brought into the
        student's per-task form by :attr:`prediction_adapter` (which, at build, refused the
        terms its head does not support)."""
        losses, adapter = {}, self.prediction_adapter
        if self.loss_heatmap is not None:
            losses['loss_distill_heatmap'] = heatmap_distill_loss(
                s_preds, adapter.teacher_heatmaps(t_preds), self.loss_heatmap,
                self.heatmap_average)
        if self.loss_reg is not None:
            _, _, inds, masks = self.student.bbox_head.get_targets(batch_gt_instances_3d)
            losses['loss_distill_reg'] = regression_distill_loss(
                s_preds, adapter.teacher_regressions(t_preds), inds, masks, self.loss_reg)
        return losses

    def loss(self, batch_inputs_dict: dict, batch_data_samples: List[Det3DDataSample],
             **kwargs) -> Dict[str, Tensor]:
        metas = [s.metainfo for s in batch_data_samples]
        gts = [s.gt_instances_3d for s in batch_data_samples]
        teacher = self.teacher_outputs(batch_inputs_dict, metas)
        student = self.student.extract_bev_features(self.student_inputs(batch_inputs_dict), metas)
        s_preds = self.student.bbox_head(student['decoder'])
        losses = self.feature_distill_losses(student, teacher, gts)
        losses.update(self.prediction_distill_losses(s_preds, teacher['preds'], gts))
        # mmdet3d's CenterHead loss applies an in-place sigmoid (clip_sigmoid) to each task's
        # heatmap: hand it clones so the logits the QFL term read (and its backward) survive.
        s_preds = tuple([dict(level, heatmap=level['heatmap'].clone()) for level in task]
                        for task in s_preds)
        detection = self.student.bbox_head.loss_by_feat(s_preds, gts)
        groups = {k[len('loss_'):]: [k] for k in losses}  # each distillation term alone
        losses.update(detection)
        groups.update(detection=list(detection), total=list(losses))
        losses.update(self.gradient_diagnostics(losses, groups,
                                                {k: student.get(k) for k in BEV_MAPS}))
        return losses

    # ---------------------------------------------------------------------------------------
    # inference: the student alone
    # ---------------------------------------------------------------------------------------
    def predict(self, batch_inputs_dict: dict, batch_data_samples: List[Det3DDataSample],
                **kwargs) -> List[Det3DDataSample]:
        return self.student.predict(self.student_inputs(batch_inputs_dict), batch_data_samples)

    def _forward(self, batch_inputs_dict: dict,
                 batch_data_samples: Optional[List[Det3DDataSample]] = None, **kwargs):
        return self.student._forward(self.student_inputs(batch_inputs_dict), batch_data_samples)

    def extract_feat(self, batch_inputs_dict: dict, batch_input_metas: List[dict]):
        return self.student.extract_feat(self.student_inputs(batch_inputs_dict),
                                         batch_input_metas)


def split_student_state(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """A distiller state dict's ``student.*`` entries without the prefix (metadata kept)."""
    out = select_prefix(state, 'student.')
    if not out:
        raise KeyError(f'no "student.*" keys: not a SimDistill checkpoint (first keys: '
                       f'{list(state)[:5]})')
    return out
