"""The SimDistill student: a camera-only detector with the teacher's multi-modal shape."""
from typing import Dict

from mmdet3d.registry import MODELS
from torch import Tensor

from .bevfusion import BEVFusionDetector, ConfigType, LiftFn
from ...structures.bev_grid import camera_bev_shape


@MODELS.register_module()
class SimDistillStudent(BEVFusionDetector):
    """Images only, at training and at test, but shaped like the LiDAR + camera teacher.

    ``img_backbone`` -> ``img_neck`` gives image features once; from them

    - the camera branch ``view_transform`` (LSS) gives the camera BEV;
    - the simulated-LiDAR branch ``sim_lidar_view_transform`` (its own LSS) gives a BEV map that
      ``geometry_compensation`` refines into the simulated-LiDAR BEV;

    ``fusion_layer`` fuses ``[simulated-LiDAR BEV, camera BEV]`` (the teacher's
    ``[LiDAR, camera]`` roles; "simulated fusion"); ``pts_backbone`` + ``pts_neck`` decode and
    ``bbox_head`` detects, configured as the teacher's.

    Args:
        sim_lidar_view_transform: LSS config of the simulated-LiDAR branch. None with
            ``share_view_transform=True`` reuses the camera branch's transform, as the authors'
            release does (both branches then start from identical BEV features); the paper
            describes two transforms, the default here.
        geometry_compensation: the GCM config (e.g. ``DeformableGeometryCompensation``), or
            None for the "without GCM" ablation.
        share_view_transform: see above.
        The other arguments are :class:`BEVFusionDetector`'s; ``pts_voxel_encoder`` and
        ``pts_middle_encoder`` must stay None (the student never sees a point).

    All BEV maps are ``(B, C, ny, nx)`` like the teacher's.
    """

    def __init__(self,
                 view_transform: ConfigType,
                 fusion_layer: ConfigType,
                 sim_lidar_view_transform: ConfigType = None,
                 geometry_compensation: ConfigType = None,
                 share_view_transform: bool = False,
                 pts_voxel_encoder: ConfigType = None,
                 pts_middle_encoder: ConfigType = None,
                 **kwargs) -> None:
        if pts_voxel_encoder is not None or pts_middle_encoder is not None:
            raise ValueError('a SimDistillStudent is camera-only: pts_voxel_encoder and '
                             'pts_middle_encoder must be None')
        for name, cfg in (('view_transform', view_transform),
                          ('sim_lidar_view_transform', sim_lidar_view_transform)):
            if cfg is not None and cfg.get('lidar_depth_channels', 0):
                raise ValueError(f'a SimDistillStudent uses images only: {name}.'
                                 f'lidar_depth_channels must be 0, got '
                                 f'{cfg["lidar_depth_channels"]}')
        if share_view_transform == (sim_lidar_view_transform is not None):
            raise ValueError('give either sim_lidar_view_transform (separate transforms, the '
                             'paper) or share_view_transform=True (the release), not both '
                             'or neither')
        if sim_lidar_view_transform is not None and \
                camera_bev_shape(sim_lidar_view_transform) != camera_bev_shape(view_transform):
            raise ValueError(
                f'BEV grids do not match: view_transform gives '
                f'{camera_bev_shape(view_transform)} (ny, nx) but sim_lidar_view_transform gives '
                f'{camera_bev_shape(sim_lidar_view_transform)}')
        super().__init__(view_transform=view_transform, fusion_layer=fusion_layer, **kwargs)
        self.share_view_transform = share_view_transform
        self.sim_lidar_view_transform = (MODELS.build(sim_lidar_view_transform)
                                         if sim_lidar_view_transform is not None else None)
        if geometry_compensation is not None and geometry_compensation.get('position_embedding'):
            # the GCM's position table has the shape of the map it refines: one fact, here
            geometry_compensation = dict(geometry_compensation,
                                         bev_shape=camera_bev_shape(view_transform))
        self.geometry_compensation = (MODELS.build(geometry_compensation)
                                      if geometry_compensation is not None else None)

    @property
    def view_transforms(self) -> list:
        """The LSS modules this student runs (one when the transform is shared)."""
        return [self.view_transform] + ([self.sim_lidar_view_transform]
                                        if self.sim_lidar_view_transform is not None else [])

    def camera_only_stages(self, img_feats: Tensor, lift: LiftFn) -> Dict[str, object]:
        """Every BEV stage of the student from its image features ``(B, N, C, h, w)`` (computed
        once for both branches), each LSS run by ``lift(view_transform, img_feats)`` (see
        :meth:`BEVFusionDetector.camera_only_stages`; ``extract_bev_features`` lifts with the batch's
        cameras and never passes points on).

        Returns:
            dict: ``camera_bev`` and ``sim_lidar_bev`` ``(B, C, ny, nx)`` (the latter after the
            GCM), ``sim_lidar_bev_raw`` (before it), ``fused_bev`` ``(B, C_f, ny, nx)`` and
            ``decoder`` (the head's input maps).
        """
        camera_bev = lift(self.view_transform, img_feats)
        sim_raw = (camera_bev if self.share_view_transform else
                   lift(self.sim_lidar_view_transform, img_feats))
        sim_lidar_bev = (self.geometry_compensation(sim_raw)
                         if self.geometry_compensation is not None else sim_raw)
        fused_bev = self.fusion_layer([sim_lidar_bev, camera_bev])
        return dict(camera_bev=camera_bev, sim_lidar_bev_raw=sim_raw,
                    sim_lidar_bev=sim_lidar_bev, fused_bev=fused_bev,
                    decoder=self.decode_bev(fused_bev))
