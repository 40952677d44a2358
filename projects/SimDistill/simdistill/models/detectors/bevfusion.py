"""BEVFusion: camera and/or LiDAR BEV features, fused, decoded and detected.

One class covers the three models SimDistill needs: the LiDAR + camera teacher, the LiDAR-only
model and the camera-only baseline (BEVFusion-C); a branch is absent when its config is.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmdet3d.models import Base3DDetector
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample
from torch import Tensor
from torch.nn import Module

from ...engine.gradient_diagnostics import GradientDiagnosticsMixin
from ...engine.non_finite import NamesNonFiniteLosses
from ...model_conversion import refuse_upstream_layout
from ..view_transforms import stack_camera_matrices
from .finite_boxes import drop_non_finite_boxes
from ...structures.bev_grid import check_bev_grids

ConfigType = Optional[dict]
# (view transform, image features (B, N, C, h, w)) -> BEV (B, C', ny, nx)
LiftFn = Callable[[Module, Tensor], Tensor]
BEV_MAPS = ('camera_bev', 'sim_lidar_bev', 'lidar_bev', 'fused_bev')  # for the diagnostics


@MODELS.register_module()
class BEVFusionDetector(NamesNonFiniteLosses, GradientDiagnosticsMixin, Base3DDetector):
    """Multi-modal BEV detector (BEVFusion, Liu et al. 2023) with registry-built parts.

    Camera branch: ``img_backbone`` -> ``img_neck`` (level ``img_neck_out_index``) ->
    ``view_transform`` (LSS) -> camera BEV. LiDAR branch (points voxelized by the data
    preprocessor): ``pts_voxel_encoder`` -> ``pts_middle_encoder`` (-> ``pts_bev_encoder``, when
    configured: conv layers on the scattered map) -> LiDAR BEV. With both,
    ``fusion_layer`` joins ``[camera BEV, LiDAR BEV]``; then ``pts_backbone`` + ``pts_neck``
    decode the BEV map and ``bbox_head`` detects.

    All BEV maps are ``(B, C, ny, nx)``: rows = y, columns = x (mmdet3d's convention).
    Registered as ``BEVFusionDetector`` (and the fuser and head as ``BEVConvFuser``,
    ``BEVTransFusionHead``) so that mmdet3d's ``projects/BEVFusion``, which registers
    ``BEVFusion``, ``ConvFuser`` and ``TransFusionHead``, can be imported in the same process.
    Weights of mmdet3d's ``projects/BEVFusion`` (BEV maps ``(B, C, nx, ny)``) load after
    ``tools/model_converters/mmdet3d_bevfusion.py``; loading them unconverted raises,
    naming that converter, instead of silently running transposed BEV kernels.
    """

    def __init__(self,
                 data_preprocessor: ConfigType = None,
                 img_backbone: ConfigType = None,
                 img_neck: ConfigType = None,
                 view_transform: ConfigType = None,
                 pts_voxel_encoder: ConfigType = None,
                 pts_middle_encoder: ConfigType = None,
                 pts_bev_encoder: ConfigType = None,
                 fusion_layer: ConfigType = None,
                 pts_backbone: ConfigType = None,
                 pts_neck: ConfigType = None,
                 bbox_head: ConfigType = None,
                 img_neck_out_index: int = 0,
                 init_cfg: ConfigType = None,
                 **kwargs) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg, **kwargs)
        has_camera = view_transform is not None
        has_lidar = pts_middle_encoder is not None
        if not (has_camera or has_lidar):
            raise ValueError('BEVFusion needs a camera branch (view_transform) or a LiDAR '
                             'branch (pts_middle_encoder)')
        if pts_bev_encoder is not None and not has_lidar:
            raise ValueError('pts_bev_encoder refines the LiDAR BEV: it needs pts_middle_encoder '
                             '(a camera-only config derived from a LiDAR one sets both to None)')
        if has_camera and has_lidar and fusion_layer is None:
            raise ValueError('a camera + LiDAR BEVFusion needs a fusion_layer')
        check_bev_grids(view_transform, pts_middle_encoder, pts_backbone, pts_neck, bbox_head)
        build = lambda cfg: MODELS.build(cfg) if cfg is not None else None  # noqa: E731
        self.img_backbone = build(img_backbone)
        self.img_neck = build(img_neck)
        self.view_transform = build(view_transform)
        self.pts_voxel_encoder = build(pts_voxel_encoder)
        self.pts_middle_encoder = build(pts_middle_encoder)
        self.pts_bev_encoder = build(pts_bev_encoder)
        self.fusion_layer = build(fusion_layer)
        self.pts_backbone = build(pts_backbone)
        self.pts_neck = build(pts_neck)
        self.bbox_head = build(bbox_head)
        self.img_neck_out_index = img_neck_out_index
        self._register_load_state_dict_pre_hook(self._refuse_upstream_weights)

    @staticmethod
    def _refuse_upstream_weights(state_dict, prefix, *args) -> None:
        refuse_upstream_layout(state_dict, prefix)

    @property
    def with_camera(self) -> bool:
        return self.view_transform is not None

    @property
    def with_lidar(self) -> bool:
        return self.pts_middle_encoder is not None

    @property
    def view_transforms(self) -> list:
        """The LSS modules this model runs."""
        return [self.view_transform] if self.with_camera else []

    # ---------------------------------------------------------------------------------------
    # features
    # ---------------------------------------------------------------------------------------
    def extract_img_feat(self, imgs: Tensor) -> Tensor:
        """Multi-view images ``(B, N, 3, H, W)`` -> features ``(B, N, C, h, w)``."""
        if imgs.dim() != 5:
            raise ValueError(
                f'expected multi-view images (B, N, 3, H, W), got {tuple(imgs.shape)}')
        B, N = imgs.shape[:2]
        feats = self.img_backbone(imgs.flatten(0, 1))
        if self.img_neck is not None:
            feats = self.img_neck(feats)
        feat = feats[self.img_neck_out_index] if isinstance(feats, (list, tuple)) else feats
        return feat.view(B, N, *feat.shape[1:])

    @staticmethod
    def images_and_cameras(batch_inputs_dict: dict,
                           batch_input_metas: List[dict]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The batch's images ``(B, N, 3, H, W)`` and stacked camera matrices."""
        imgs = batch_inputs_dict.get('imgs')
        if imgs is None:
            raise KeyError('the camera branch needs inputs["imgs"]: is a multi-view image loader '
                           'in the pipeline and "img" in the Pack3DDetInputs keys?')
        return imgs, stack_camera_matrices(batch_input_metas, imgs.device)

    def extract_camera_bev(self, batch_inputs_dict: dict, batch_input_metas: List[dict],
                           view_transform=None) -> Tensor:
        """Camera BEV ``(B, C, ny, nx)`` from the images (and points, for a depth-aware LSS)."""
        imgs, cameras = self.images_and_cameras(batch_inputs_dict, batch_input_metas)
        view_transform = view_transform or self.view_transform
        return view_transform(self.extract_img_feat(imgs), cameras,
                              batch_inputs_dict.get('points'))

    def camera_only_stages(self, img_feats: Tensor, lift: LiftFn) -> Dict[str, object]:
        """BEV stages of a camera-only model from its image features.

        Args:
            img_feats: ``(B, N, C, h, w)`` (:meth:`extract_img_feat`).
            lift: ``(view_transform, img_feats) -> BEV``: runs one LSS; the caller chooses the
                BEV pool (the batch's plan here, the plan inputs of an exported graph).

        Returns:
            dict: ``camera_bev``, ``fused_bev`` and ``decoder``, as :meth:`extract_bev_features`.
        """
        if self.with_lidar:
            raise ValueError('camera_only_stages needs a camera-only model; this one has a LiDAR '
                             'branch')
        camera_bev = lift(self.view_transform, img_feats)
        fused_bev = (self.fusion_layer([camera_bev])
                     if self.fusion_layer is not None else camera_bev)
        return dict(camera_bev=camera_bev, fused_bev=fused_bev, decoder=self.decode_bev(fused_bev))

    def extract_lidar_bev(self, batch_inputs_dict: dict) -> Tensor:
        """LiDAR BEV ``(B, C, ny, nx)`` from the voxelized points."""
        voxels = batch_inputs_dict.get('voxels')
        if voxels is None:
            raise KeyError('the LiDAR branch needs inputs["voxels"]: set voxel=True in the '
                           'data_preprocessor and "points" in Pack3DDetInputs keys')
        batch_size = int(voxels['coors'][-1, 0].item()) + 1 if len(voxels['coors']) else 1
        batch_size = max(batch_size, len(batch_inputs_dict['points']))
        feats = self.pts_voxel_encoder(voxels['voxels'], voxels['num_points'], voxels['coors'])
        bev = self.pts_middle_encoder(feats, voxels['coors'], batch_size)
        return self.pts_bev_encoder(bev) if self.pts_bev_encoder is not None else bev

    def decode_bev(self, bev: Tensor) -> List[Tensor]:
        """BEV decoder (SECOND + SECONDFPN): fused BEV -> the head's input maps."""
        feats = self.pts_backbone(bev)
        return self.pts_neck(feats) if self.pts_neck is not None else list(feats)

    def extract_bev_features(self, batch_inputs_dict: dict,
                             batch_input_metas: List[dict]) -> Dict[str, object]:
        """Every BEV stage, for detection and for distillation.

        Returns:
            dict: ``camera_bev`` and/or ``lidar_bev`` ``(B, C, ny, nx)`` (the branches this model
            has), ``fused_bev`` ``(B, C_f, ny, nx)`` (the single branch when there is one) and
            ``decoder`` (list of ``(B, C_d, H, W)`` head inputs).
        """
        if not self.with_lidar:
            imgs, cameras = self.images_and_cameras(batch_inputs_dict, batch_input_metas)
            return self.camera_only_stages(self.extract_img_feat(imgs),
                                           lambda transform, feats: transform(feats, cameras))
        out = {}
        if self.with_camera:
            out['camera_bev'] = self.extract_camera_bev(batch_inputs_dict, batch_input_metas)
        if self.with_lidar:
            out['lidar_bev'] = self.extract_lidar_bev(batch_inputs_dict)
        branches = [out[k] for k in ('camera_bev', 'lidar_bev') if k in out]
        out['fused_bev'] = (self.fusion_layer(branches)
                            if self.fusion_layer is not None else branches[0])
        out['decoder'] = self.decode_bev(out['fused_bev'])
        return out

    def extract_feat(self, batch_inputs_dict: dict, batch_input_metas: List[dict]):
        return self.extract_bev_features(batch_inputs_dict, batch_input_metas)['decoder']

    # ---------------------------------------------------------------------------------------
    # mmdet3d modes
    # ---------------------------------------------------------------------------------------
    @staticmethod
    def metas(batch_data_samples: Sequence[Det3DDataSample]) -> List[dict]:
        return [sample.metainfo for sample in batch_data_samples]

    def loss(self, batch_inputs_dict: dict, batch_data_samples: List[Det3DDataSample],
             **kwargs) -> Dict[str, Tensor]:
        feats = self.extract_bev_features(batch_inputs_dict, self.metas(batch_data_samples))
        losses = self.bbox_head.loss(feats['decoder'], batch_data_samples)
        losses.update(self.gradient_diagnostics(losses, dict(detection=list(losses)),
                                                {k: feats.get(k) for k in BEV_MAPS}))
        return losses

    def predict(self, batch_inputs_dict: dict, batch_data_samples: List[Det3DDataSample],
                **kwargs) -> List[Det3DDataSample]:
        feats = self.extract_feat(batch_inputs_dict, self.metas(batch_data_samples))
        results = drop_non_finite_boxes(self.bbox_head.predict(feats, batch_data_samples))
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs_dict: dict,
                 batch_data_samples: Optional[List[Det3DDataSample]] = None, **kwargs):
        metas = self.metas(batch_data_samples) if batch_data_samples else [{}]
        return self.bbox_head(self.extract_feat(batch_inputs_dict, metas))
