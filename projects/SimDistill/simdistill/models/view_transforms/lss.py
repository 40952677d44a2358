"""Lift-splat-shoot view transforms: image features -> BEV features via the BEV pool op."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...ops.bev_pool import BEVPoolPlanCache, bev_pool, build_plan
from ...structures.bev_grid import BEVGrid, HeadGrid
from .frustum import frustum_to_lidar, make_frustum

CAMERA_KEYS = ('cam2img', 'lidar2cam', 'img_aug_matrix', 'lidar_aug_matrix')


def stack_camera_matrices(batch_input_metas: List[dict],
                          device: torch.device) -> Dict[str, Tensor]:
    """Stacks the per-sample camera matrices of a batch.

    Args:
        batch_input_metas: one metainfo dict per sample holding ``cam2img`` ``(N, 3|4, 3|4)``,
            ``lidar2cam`` ``(N, 4, 4)`` and, when augmentation ran, ``img_aug_matrix``
            ``(N, 4, 4)`` and ``lidar_aug_matrix`` ``(4, 4)`` (identity when absent).
        device: where to put the tensors.

    Returns:
        dict: ``cam2img``, ``lidar2cam``, ``img_aug_matrix`` ``(B, N, 4, 4)`` and
        ``lidar_aug_matrix`` ``(B, 4, 4)``, float32.
    """
    out = {key: [] for key in CAMERA_KEYS}
    for i, meta in enumerate(batch_input_metas):
        if 'cam2img' not in meta or 'lidar2cam' not in meta:
            raise KeyError(f'sample {i} of the batch has no cam2img/lidar2cam in its metainfo; '
                           'add them to Pack3DDetInputs meta_keys')
        cam2img = torch.as_tensor(meta['cam2img'], dtype=torch.float32)
        num_views = cam2img.shape[0]
        padded = torch.eye(4).repeat(num_views, 1, 1)
        padded[:, :cam2img.shape[1], :cam2img.shape[2]] = cam2img
        out['cam2img'].append(padded)
        out['lidar2cam'].append(torch.as_tensor(meta['lidar2cam'], dtype=torch.float32))
        out['img_aug_matrix'].append(
            torch.as_tensor(meta['img_aug_matrix'], dtype=torch.float32)
            if 'img_aug_matrix' in meta else torch.eye(4).repeat(num_views, 1, 1))
        out['lidar_aug_matrix'].append(
            torch.as_tensor(meta['lidar_aug_matrix'], dtype=torch.float32)
            if 'lidar_aug_matrix' in meta else torch.eye(4))
    return {key: torch.stack(value).to(device) for key, value in out.items()}


@MODELS.register_module()
class LSSViewTransform(BaseModule):
    """Camera-only LSS: a depth distribution x context per feature cell, pooled into BEV.

    A 1x1 depth net predicts ``D`` depth logits and ``C`` context channels per image feature
    cell; the softmax depth times the context is summed per BEV cell by the BEV pool op without
    materialising the frustum; a conv stack then downsamples the BEV map.

    Args:
        in_channels: channels of the image feature map.
        out_channels: BEV context channels ``C`` (80 in BEVFusion).
        image_size: ``(H, W)`` of the network input images, pixels.
        feature_size: ``(h, w)`` of the image feature map.
        xbound, ybound, zbound: ``(lower, upper, cell)`` of the pooling grid, metres.
        dbound: ``(d_min, d_max, step)`` of the depth bins, metres.
        downsample: stride of the BEV conv stack after pooling (1 or 2).
        bev_pool_impl: BEV pool implementation: ``'fused'``, ``'interval'`` or ``'torch'``.
        lidar_depth_channels: 0 for a camera-only model (upstream ``LSSTransform``: a 1x1 depth
            net). Otherwise the depth net also sees the LiDAR points projected into each image
            (upstream ``DepthLSSTransform``, for the teacher only): a sparse depth image per
            view (metres, 0 where no point lands) is encoded by ``dtransform`` (a strided conv
            stack) into this many channels at the feature resolution, put *before* the image
            features, and the depth net is two 3x3 conv + BN + ReLU blocks and a 1x1 conv.
        cell_index_rounding: how a frustum point's BEV cell index is rounded: ``'trunc'``
            (default) as BEVFusion's ``.long()`` does -- points up to one cell below the
            grid's lower x/y/z bound are pooled into cell 0, as the published weights were
            trained -- or ``'floor'``, which drops them.
        init_cfg: mmengine init config.

    Module names follow upstream's (``dtransform``, ``depthnet``, ``downsample`` as plain
    ``nn.Sequential`` with ``nn.BatchNorm2d``), so its weights load after the BEV kernels are
    transposed (:mod:`simdistill.model_conversion`).

    Shapes:
        ``forward(img_feats (B, N, in_channels, h, w), camera dict)`` ->
        ``(B, out_channels * nz, ny / downsample, nx / downsample)``, rows = y, columns = x.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 image_size: Sequence[int],
                 feature_size: Sequence[int],
                 xbound: Sequence[float],
                 ybound: Sequence[float],
                 zbound: Sequence[float],
                 dbound: Sequence[float],
                 downsample: int = 1,
                 bev_pool_impl: str = 'fused',
                 lidar_depth_channels: int = 0,
                 cell_index_rounding: str = 'trunc',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if downsample not in (1, 2):
            raise ValueError(f'downsample must be 1 or 2, got {downsample}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.image_size = tuple(image_size)
        self.feature_size = tuple(feature_size)
        self.dbound = tuple(dbound)  # (d_min, d_max, d_step) of the depth bins, metres
        self.grid = BEVGrid(xbound=tuple(xbound), ybound=tuple(ybound), zbound=tuple(zbound),
                            index_rounding=cell_index_rounding)
        self.nz, self.ny, self.nx = self.grid.shape
        self.bev_pool_impl = bev_pool_impl
        self.register_buffer(
            'frustum', make_frustum(image_size, feature_size, dbound), persistent=False)
        self.num_depth_bins = self.frustum.shape[0]
        self.lidar_depth_channels = lidar_depth_channels
        self.dtransform = self._build_depth_encoder() if lidar_depth_channels else None
        self.depthnet = self._build_depthnet()
        self.downsample = self._build_downsample(out_channels * self.nz, downsample)
        self.downsample_factor = downsample
        self.plan_cache = BEVPoolPlanCache()

    @property
    def map_grid(self) -> HeadGrid:
        """The grid of the output BEV map: the pooling grid after the ``downsample`` stride."""
        return self.grid.map_grid(self.downsample_factor)

    @property
    def bev_shape(self) -> Tuple[int, int]:
        """``(rows, columns)`` = ``(ny, nx)`` of the output BEV map."""
        return self.map_grid.shape

    def _build_depthnet(self) -> nn.Module:
        out = self.num_depth_bins + self.out_channels
        if not self.lidar_depth_channels:
            return nn.Conv2d(self.in_channels, out, 1)
        c = self.in_channels
        return nn.Sequential(
            nn.Conv2d(c + self.lidar_depth_channels, c, 3, padding=1), nn.BatchNorm2d(c),
            nn.ReLU(True), nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(True),
            nn.Conv2d(c, out, 1))

    def _build_depth_encoder(self) -> nn.Module:
        """Sparse depth image ``(1, H, W)`` -> ``(lidar_depth_channels, h, w)``."""
        stride = self.image_size[0] // self.feature_size[0]
        if stride not in (4, 8, 16):
            raise ValueError(f'image/feature stride {stride} must be 4, 8 or 16')
        layers = [nn.Conv2d(1, 8, 1), nn.BatchNorm2d(8), nn.ReLU(True)]
        channels = 8
        while stride > 1:
            step = 4 if channels == 8 else 2
            out = self.lidar_depth_channels if stride == step else 32
            layers += [nn.Conv2d(channels, out, 5, stride=step, padding=2), nn.BatchNorm2d(out),
                       nn.ReLU(True)]
            channels, stride = out, stride // step
        return nn.Sequential(*layers)

    @staticmethod
    def _build_downsample(channels: int, stride: int) -> nn.Module:
        if stride == 1:
            return nn.Identity()
        layers = []
        for step in (1, stride, 1):
            layers += [nn.Conv2d(channels, channels, 3, stride=step, padding=1, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU(True)]
        return nn.Sequential(*layers)

    def depth_and_context(self, img_feats: Tensor, cameras: Dict[str, Tensor],
                          points: Optional[List[Tensor]] = None) -> Tuple[Tensor, Tensor]:
        """Depth distribution and context per feature cell.

        Returns:
            tuple: depth ``(B, N, D, h, w)`` (probabilities over the bins) and context
            ``(B, N, C, h, w)``.
        """
        B, N, _, h, w = img_feats.shape
        x = img_feats.flatten(0, 1)
        if self.dtransform is not None:
            if points is None:
                raise ValueError('this LSSViewTransform has lidar_depth_channels > 0 and needs '
                                 'the LiDAR points; a camera-only model must set it to 0')
            depth_feats = self.dtransform(self.depth_image(points, cameras).flatten(0, 1))
            x = torch.cat((depth_feats, x), dim=1)
        logits = self.depthnet(x)
        depth = logits[:, :self.num_depth_bins].softmax(dim=1)
        context = logits[:, self.num_depth_bins:]
        return depth.view(B, N, -1, h, w), context.reshape(B, N, -1, h, w)

    def depth_image(self, points: List[Tensor], cameras: Dict[str, Tensor]) -> Tensor:
        """Sparse depth images ``(B, N, 1, H, W)`` (metres, 0 = no point) of the points.

        As upstream: the camera depth is clamped to ``[1e-5, 1e5]`` before the perspective
        division (a point behind the camera projects far off the image), a point is kept when
        its pixel lies in ``[0, H) x [0, W)`` and lands on the pixel its coordinates truncate
        to; where two points share a pixel one of them is written.

        Args:
            points: per sample ``(P, >=3)`` augmented LiDAR points, metres.
            cameras: see :func:`stack_camera_matrices`.
        """
        H, W = self.image_size
        B, N = cameras['cam2img'].shape[:2]
        out = points[0].new_zeros(B, N, 1, H, W)
        for b in range(B):
            uvd = project_points(points[b][:, :3], cameras, b)  # (N, P, 3)
            for n in range(N):
                u, v, d = uvd[n].unbind(-1)
                keep = (u >= 0) & (u < W) & (v >= 0) & (v < H)
                out[b, n, 0, v[keep].long(), u[keep].long()] = d[keep].clamp(1e-5, 1e5)
        return out

    def plan_for(self, cameras: Dict[str, Tensor]):
        """The BEV pool plan of these cameras; cached while the geometry is unchanged.

        The key holds the frustum and the grid too, so transforms of one geometry can share a
        cache (a distiller's teacher and student build one plan per batch, not three).
        """
        matrices = tuple(cameras[k] for k in CAMERA_KEYS)
        return self.plan_cache.get(
            (self.frustum, self.grid, *matrices),
            lambda: build_plan(frustum_to_lidar(self.frustum, *matrices), self.grid))

    def check_input(self, img_feats: Tensor, cameras: Dict[str, Tensor]) -> None:
        if img_feats.dim() != 5 or tuple(img_feats.shape[-2:]) != self.feature_size \
                or img_feats.shape[2] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} expects image features (B, N, {self.in_channels}, '
                f'{self.feature_size[0]}, {self.feature_size[1]}), got {tuple(img_feats.shape)}')
        if cameras['cam2img'].shape[:2] != img_feats.shape[:2]:
            raise ValueError(f'cam2img batch/views {tuple(cameras["cam2img"].shape[:2])} do not '
                             f'match image features {tuple(img_feats.shape[:2])}')

    def forward(self, img_feats: Tensor, cameras: Dict[str, Tensor],
                points: Optional[List[Tensor]] = None) -> Tensor:
        """Image features ``(B, N, C_in, h, w)`` -> BEV ``(B, C * nz, ny', nx')``."""
        self.check_input(img_feats, cameras)
        plan = self.plan_for(cameras)
        return self.lift(img_feats, lambda d, c: bev_pool(d, c, plan, impl=self.bev_pool_impl),
                         cameras, points)

    def lift(self, img_feats: Tensor, pool: Callable[[Tensor, Tensor], Tensor],
             cameras: Optional[Dict[str, Tensor]] = None,
             points: Optional[List[Tensor]] = None) -> Tensor:
        """Depth x context pooled by ``pool``, then the BEV conv stack.

        Args:
            img_feats: ``(B, N, C_in, h, w)``.
            pool: ``(depth (B, N, D, h, w), context (B, N, C, h, w))`` -> ``(B, C, nz, ny,
                nx)``: :func:`bev_pool` with this geometry's plan, or the gather + scatter-add
                pool of an exported graph.
            cameras, points: only for a depth-aware LSS (``lidar_depth_channels > 0``).

        Returns:
            ``(B, C * nz, ny', nx')``.
        """
        depth, context = self.depth_and_context(img_feats, cameras, points)
        # Under autocast the softmax depth is float32 while the conv context is float16.
        bev = pool(depth.to(context.dtype), context)
        return self.downsample(bev.flatten(1, 2))  # (B, C, nz, ny, nx) -> (B, C * nz, ny, nx)


def project_points(points: Tensor, cameras: Dict[str, Tensor], sample: int) -> Tensor:
    """Projects augmented LiDAR points into every augmented image of one sample.

    Args:
        points: ``(P, 3)`` augmented LiDAR coordinates, metres.
        cameras: see :func:`stack_camera_matrices`.
        sample: index in the batch.

    Returns:
        Tensor: ``(N, P, 3)``: ``(u, v)`` pixels of the augmented image and depth ``d`` (metres,
        <= 0 behind the camera).
    """
    raw2aug = cameras['lidar_aug_matrix'][sample]
    raw = (points - raw2aug[:3, 3]) @ torch.linalg.inv(raw2aug[:3, :3]).T
    lidar2img = cameras['cam2img'][sample] @ cameras['lidar2cam'][sample]  # (N, 4, 4)
    cam = raw[None] @ lidar2img[:, :3, :3].transpose(1, 2) + lidar2img[:, None, :3, 3]
    d = cam[..., 2:3]
    uv1 = torch.cat((cam[..., :2] / d.clamp(min=1e-5), torch.ones_like(d)), dim=-1)
    aug = cameras['img_aug_matrix'][sample]
    uv = uv1 @ aug[:, :3, :3].transpose(1, 2)
    uv = uv[..., :2] + aug[:, None, :2, 3]
    return torch.cat((uv, d), dim=-1)
