"""TransFusion-style 3D detection head (the head BEVFusion uses), a drop-in for CenterHead."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet3d.models.dense_heads.centerpoint_head import SeparateHead
from mmdet3d.registry import MODELS, TASK_UTILS
from mmdet3d.structures import BaseInstance3DBoxes, Det3DDataSample, LiDARInstance3DBoxes
from mmengine.model import BaseModule, bias_init_with_prob
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .bbox_coder import CODE_FIELDS, CODE_SIZE, TransFusionBoxCoder
from ...structures.bev_grid import HeadGrid
from .decoder_layer import TransFusionDecoderLayer
from .heatmap_targets import gaussian_heatmap_targets
from .proposals import heatmap_peaks

# TransFusion's decoder layer: dropout 0.1 on the attention weights, on each sublayer's output
# and inside the FFN.
DEFAULT_DECODER_LAYER = dict(
    self_attn_cfg=dict(
        num_heads=8, attn_drop=0.1, dropout_layer=dict(type='Dropout', drop_prob=0.1)),
    cross_attn_cfg=dict(
        num_heads=8, attn_drop=0.1, dropout_layer=dict(type='Dropout', drop_prob=0.1)),
    ffn_cfg=dict(
        feedforward_channels=256, num_fcs=2, ffn_drop=0.1, act_cfg=dict(type='ReLU',
                                                                        inplace=True)),
    norm_cfg=dict(type='LN'))
DEFAULT_ASSIGNER = dict(
    type='mmdet.HungarianAssigner',
    match_costs=[
        dict(type='mmdet.FocalLossCost', gamma=2.0, alpha=0.25, weight=0.15),
        dict(type='BEVCenterL1Cost', weight=0.25),
        dict(type='BoxIoU3DCost', iou_type='3d', weight=0.25),
    ])
# Prior probability of a positive at initialisation, for the classification biases.
PRIOR_PROB = 0.1
# Keeps log() of the heatmap focal loss finite, as mmdet3d's clip_sigmoid does.
HEATMAP_EPS = 1e-4

PredsDict = Dict[str, Tensor]


@MODELS.register_module()
class BEVTransFusionHead(BaseModule):
    """TransFusion-style detection head on one BEV feature map.

    A shared 3x3 conv maps the BEV features to ``hidden_channels``; a conv branch predicts a
    dense class heatmap; the ``num_proposals`` highest local maxima of the heatmap (max-pool NMS
    per class) become object queries: the BEV feature at the peak's cell plus an embedding of
    the peak's class, positioned at the cell centre. One transformer decoder layer (self-
    attention among the queries, cross-attention to the flattened BEV map with learned
    positional encodings of ``(x, y)``, FFN) refines them, and per-query FFNs predict the centre
    offset from the query's cell (cells), the gravity-centre height (m), log-size (log m), yaw
    as ``(sin, cos)``, velocity (m/s) and class logits. Training matches queries to boxes with
    mmdet's ``HungarianAssigner`` per sample and applies a focal classification loss, an L1
    loss on the encoded boxes (:class:`TransFusionBoxCoder`) and a Gaussian focal loss on the
    heatmap. No NMS is needed at test time.

    Interface (mmdet3d 1.4 ``CenterHead``'s): ``forward(feats)``, ``loss(feats,
    batch_data_samples)``, ``predict(feats, batch_data_samples)``; ``train_cfg``/``test_cfg``
    carry the grid as for CenterHead (``grid_size``, ``voxel_size``, ``out_size_factor``,
    ``point_cloud_range``).

    ``train_cfg`` keys (all optional except the grid's): ``assigner`` (mmdet assigner config,
    default ``DEFAULT_ASSIGNER``; match costs read ``scores`` (logits) and ``bboxes_3d``),
    ``code_weights`` (10 weights for the encoded box, default all 1), ``gaussian_overlap``
    (0.1), ``min_radius`` (2). ``test_cfg`` keys: ``score_threshold`` (0.0), ``max_per_img``
    (``num_proposals``), ``post_center_limit_range`` (``[x_min, y_min, z_min, x_max, y_max,
    z_max]`` for the box's bottom centre as upstream filters it, none by default),
    ``use_heatmap_score`` (True: the score is ``sigmoid(cls)`` times the suppressed heatmap
    at the query cell).

    The module names, the decoder layer, the peak selection and the decoding are those of
    mmdet3d's ``projects/BEVFusion`` ``TransFusionHead`` (one decoder layer), so its weights
    load after :mod:`simdistill.model_conversion` transposes the BEV conv kernels; the BEV
    maps here are ``(B, C, ny, nx)`` (rows y) where upstream's are ``(B, C, nx, ny)``.

    Example (nuScenes, LiDAR/fused BEV after SECONDFPN)::

        voxel_size = [0.075, 0.075, 0.2]
        point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
        grid = dict(grid_size=[1440, 1440, 41], voxel_size=voxel_size, out_size_factor=8,
                    point_cloud_range=point_cloud_range)
        bbox_head = dict(
            type='BEVTransFusionHead',
            in_channels=512,
            num_classes=10,
            hidden_channels=128,
            num_proposals=200,
            nms_kernel_size=[3] * 8 + [1, 1],  # none for pedestrian, traffic_cone (nus-common)
            loss_cls=dict(type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          reduction='mean', loss_weight=1.0),
            loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
            loss_heatmap=dict(type='mmdet.GaussianFocalLoss', reduction='mean',
                              loss_weight=1.0),
            train_cfg=dict(
                **grid, gaussian_overlap=0.1, min_radius=2,
                code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],
                assigner=dict(
                    type='mmdet.HungarianAssigner',
                    match_costs=[
                        dict(type='mmdet.FocalLossCost', gamma=2.0, alpha=0.25, weight=0.15),
                        dict(type='BEVCenterL1Cost', weight=0.25),
                        dict(type='BoxIoU3DCost', iou_type='3d', weight=0.25)])),
            test_cfg=dict(
                **grid, score_threshold=0.0, max_per_img=200,
                post_center_limit_range=[-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]))

    Args:
        in_channels (int): channels ``C`` of the input BEV map.
        num_classes (int): number of classes ``K``.
        hidden_channels (int): query/feature width ``D``. Defaults to 128.
        num_proposals (int): queries per sample ``P``. Defaults to 200.
        nms_kernel_size (int | Sequence[int]): odd max-pool window of the heatmap NMS, one for
            all classes or one per class (1 disables NMS for a class). Defaults to 3.
        num_heatmap_convs (int): convs of the heatmap branch, the last one predicting ``K``
            channels. Defaults to 2.
        num_head_convs (int): 1x1 convs of each per-query prediction head. Defaults to 2.
        head_conv (int): width of the hidden 1x1 convs of the per-query prediction heads.
            Defaults to 64 (upstream's ``SeparateHead`` default).
        decoder_layer (dict, optional): kwargs of mmdet's ``DetrTransformerDecoderLayer``
            (see :class:`TransFusionDecoderLayer`); ``embed_dims`` default to
            ``hidden_channels``. Defaults to ``DEFAULT_DECODER_LAYER`` (8 heads, FFN 256,
            dropout 0.1).
        exclude_border_peaks (bool): no proposals on the outer ``nms_kernel_size // 2`` ring
            of the heatmap for classes with a window larger than 1, as upstream's unpadded
            max-pool does (see :func:`heatmap_peaks`). Defaults to True (its weights were
            trained so).
        norm_cfg (dict): norm of the heatmap branch. Defaults to ``BN2d``.
        head_norm_cfg (dict, optional): norm of the per-query heads (over batch and queries).
            Defaults to ``BN1d``.
        loss_cls (dict): classification loss on query logits (sigmoid focal loss).
        loss_bbox (dict): regression loss on the encoded boxes.
        loss_heatmap (dict): loss on the dense heatmap probabilities.
        bbox_coder (dict, optional): config of a :class:`TransFusionBoxCoder` on the same grid;
            by default one is made from the grid.
        train_cfg (dict, optional): see above.
        test_cfg (dict, optional): see above. The grid comes from ``test_cfg`` or
            ``train_cfg``; when both define one they must agree, and the grid keys of a partial
            one (e.g. CenterHead's ``test_cfg`` with ``voxel_size``, ``out_size_factor`` and a
            2-value ``pc_range``) must agree with it.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: int = 128,
                 num_proposals: int = 200,
                 nms_kernel_size: Union[int, Sequence[int]] = 3,
                 num_heatmap_convs: int = 2,
                 num_head_convs: int = 2,
                 head_conv: int = 64,
                 decoder_layer: Optional[dict] = None,
                 exclude_border_peaks: bool = True,
                 norm_cfg: dict = dict(type='BN2d'),
                 head_norm_cfg: Optional[dict] = dict(type='BN1d'),
                 loss_cls: dict = dict(
                     type='mmdet.FocalLoss',
                     use_sigmoid=True,
                     gamma=2.0,
                     alpha=0.25,
                     reduction='mean',
                     loss_weight=1.0),
                 loss_bbox: dict = dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
                 loss_heatmap: dict = dict(
                     type='mmdet.GaussianFocalLoss', reduction='mean', loss_weight=1.0),
                 bbox_coder: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.hidden_channels = hidden_channels
        self.num_proposals = num_proposals
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self.grid = self._grid_from_cfgs(train_cfg, test_cfg)
        if num_proposals > num_classes * self.grid.nx * self.grid.ny:
            raise ValueError(f'num_proposals={num_proposals} exceeds the {num_classes} classes x '
                             f'{self.grid.ny}x{self.grid.nx} cells of the heatmap')
        if isinstance(nms_kernel_size, int):
            nms_kernel_size = [nms_kernel_size] * num_classes
        if len(nms_kernel_size) != num_classes or any(k % 2 != 1 for k in nms_kernel_size):
            raise ValueError(f'nms_kernel_size must be odd, one or {num_classes} of them; got '
                             f'{nms_kernel_size}')
        self.nms_kernel_sizes = tuple(int(k) for k in nms_kernel_size)
        self.exclude_border_peaks = exclude_border_peaks

        self.bbox_coder = self._build_coder(bbox_coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        assigner = dict(self.train_cfg.get('assigner', DEFAULT_ASSIGNER))
        # Builds with mmdet3d as the default scope, so that mmdet's HungarianAssigner finds the
        # 3D match costs registered here even outside an mmdet3d runner.
        assigner.setdefault('_scope_', 'mmdet3d')
        self.assigner = TASK_UTILS.build(assigner)
        code_weights = self.train_cfg.get('code_weights', [1.0] * CODE_SIZE)
        if len(code_weights) != CODE_SIZE:
            raise ValueError(f'code_weights needs {CODE_SIZE} values, got {len(code_weights)}')
        self.register_buffer(
            'code_weights', torch.tensor(code_weights, dtype=torch.float32), persistent=False)

        self.shared_conv = nn.Conv2d(in_channels, hidden_channels, 3, padding=1)
        self.heatmap_head = nn.Sequential(
            *[
                ConvModule(hidden_channels, hidden_channels, 3, padding=1, norm_cfg=norm_cfg)
                for _ in range(num_heatmap_convs - 1)
            ], nn.Conv2d(hidden_channels, num_classes, 3, padding=1))
        self.class_encoding = nn.Conv1d(num_classes, hidden_channels, 1)
        # Module names as upstream's (one decoder layer, one prediction head per layer).
        self.decoder = nn.ModuleList(
            [TransFusionDecoderLayer(**self._decoder_cfg(decoder_layer))])
        heads = {name: (width, num_head_convs) for name, width in CODE_FIELDS}
        heads['heatmap'] = (num_classes, num_head_convs)  # the class logits
        self.prediction_heads = nn.ModuleList([
            SeparateHead(
                hidden_channels,
                heads,
                head_conv=head_conv,
                final_kernel=1,
                conv_cfg=dict(type='Conv1d'),
                norm_cfg=head_norm_cfg,
                bias='auto')
        ])
        self.register_buffer('cell_centers', self.grid.cell_centers(), persistent=False)
        self._init_head()

    # ----------------------------------------------------------------------------------------
    # construction
    # ----------------------------------------------------------------------------------------
    @staticmethod
    def _grid_from_cfgs(train_cfg: Optional[dict], test_cfg: Optional[dict]) -> HeadGrid:
        cfgs = {
            name: cfg
            for name, cfg in (('train_cfg', train_cfg), ('test_cfg', test_cfg)) if cfg is not None
        }
        grids, missing = {}, {}
        for name, cfg in cfgs.items():
            try:
                grids[name] = HeadGrid.from_cfg(cfg)
            except KeyError as err:  # a partial grid, e.g. a CenterHead test_cfg
                missing[name] = err
        if not grids:
            raise KeyError('BEVTransFusionHead needs the BEV grid (voxel_size, out_size_factor, '
                           f'point_cloud_range, grid_size) in train_cfg or test_cfg: {missing}')
        if len(set(grids.values())) > 1:
            raise ValueError(f'train_cfg and test_cfg give different BEV grids: {grids}')
        grid = next(iter(grids.values()))
        for name in missing:
            grid.check_cfg(cfgs[name], name)
        return grid

    def _build_coder(self, cfg: Optional[dict]) -> TransFusionBoxCoder:
        if cfg is None:
            grid = self.grid
            return TransFusionBoxCoder(
                point_cloud_range=[grid.x_min, grid.y_min],
                voxel_size=[grid.cell_x, grid.cell_y],
                out_size_factor=1,
                grid_size=[grid.nx, grid.ny])
        coder = TASK_UTILS.build(cfg)
        if getattr(coder, 'grid', None) != self.grid:
            raise ValueError(f'bbox_coder grid {getattr(coder, "grid", None)} differs from the '
                             f'head grid {self.grid}')
        return coder

    def _decoder_cfg(self, cfg: Optional[dict]) -> dict:
        cfg = copy.deepcopy(DEFAULT_DECODER_LAYER if cfg is None else cfg)
        for key in ('self_attn_cfg', 'cross_attn_cfg', 'ffn_cfg'):
            sub = cfg.setdefault(key, {})
            sub.setdefault('embed_dims', self.hidden_channels)
            if sub['embed_dims'] != self.hidden_channels:
                raise ValueError(f'decoder_layer.{key}.embed_dims={sub["embed_dims"]} must equal '
                                 f'hidden_channels={self.hidden_channels}')
        return cfg

    def _init_head(self) -> None:
        for param in self.decoder.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)
        bias = bias_init_with_prob(PRIOR_PROB)
        nn.init.constant_(self.heatmap_head[-1].bias, bias)
        nn.init.constant_(self.prediction_heads[0].heatmap[-1].bias, bias)

    def init_weights(self) -> None:
        """Runs mmengine's init, then the head's (xavier decoder, prior class biases)."""
        super().init_weights()
        self._init_head()

    # ----------------------------------------------------------------------------------------
    # forward
    # ----------------------------------------------------------------------------------------
    def _check_feats(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        name = type(self).__name__
        if isinstance(feats, Tensor):
            feats = [feats]
        if len(feats) != 1:
            raise ValueError(f'{name} takes a list with one BEV map, got {len(feats)} maps')
        x = feats[0]
        shape = tuple(x.shape)
        if x.dim() != 4:
            raise ValueError(f'{name} expects a BEV map (B, C, H, W), got shape {shape}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'{name}: the BEV map of shape {shape} has {x.shape[1]} channels '
                             f'but in_channels={self.in_channels}')
        if tuple(x.shape[2:]) != self.grid.shape:
            raise ValueError(
                f'{name}: the BEV map of shape {shape} is {x.shape[2]}x{x.shape[3]} (H=y rows x '
                f'W=x columns) but the grid of train_cfg/test_cfg (grid_size / out_size_factor) '
                f'is {self.grid.ny}x{self.grid.nx}')
        return x

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tuple[List[PredsDict]]:
        """Predicts the dense heatmap and the queries' boxes.

        Args:
            feats (list[Tensor]): one BEV map ``(B, C, H, W)``, rows y, columns x.

        Returns:
            tuple[list[dict[str, Tensor]]]: CenterHead's nesting (one level, one task), so
            ``outs[0][0]`` is a dict with

            - ``heatmap`` ``(B, K, H, W)``: dense class logits;
            - ``query_index`` ``(B, P)`` long: query cell ``y * W + x``, in descending order of
              the peak's score;
            - ``query_labels`` ``(B, P)`` long: class of the heatmap peak;
            - ``query_pos`` ``(B, P, 2)``: query position (cell centre), cell coordinates;
            - ``query_heatmap_score`` ``(B, P, K)``: heatmap probabilities at the query cell
              after the peak suppression (0 for a class whose peak it is not; no gradient);
            - ``center`` ``(B, P, 2)``: centre offset from ``query_pos``, cells;
            - ``height`` ``(B, P, 1)``: gravity-centre z, metres;
            - ``dim`` ``(B, P, 3)``: log of (dx, dy, dz), log metres;
            - ``rot`` ``(B, P, 2)``: (sin yaw, cos yaw);
            - ``vel`` ``(B, P, 2)``: (vx, vy), m/s;
            - ``cls_logits`` ``(B, P, K)``: class logits.
        """
        x = self._check_feats(feats)
        bev = self.shared_conv(x)
        heatmap = self.heatmap_head(bev)
        peaks = heatmap_peaks(heatmap.detach().sigmoid(), self.nms_kernel_sizes,
                              self.exclude_border_peaks).flatten(2)  # (B, K, H * W)
        batch, num_cells = peaks.shape[0], peaks.shape[2]
        _, flat_index = peaks.flatten(1).topk(self.num_proposals, dim=1)
        query_labels = torch.div(flat_index, num_cells, rounding_mode='floor')
        query_index = flat_index % num_cells

        bev_flat = bev.flatten(2).transpose(1, 2)  # (B, H * W, D)
        gather_index = query_index[..., None].expand(-1, -1, self.hidden_channels)
        query_feat = bev_flat.gather(1, gather_index)
        one_hot = F.one_hot(query_labels, self.num_classes).to(query_feat.dtype)
        query_feat = query_feat + self.class_encoding(one_hot.transpose(1, 2)).transpose(1, 2)
        query_pos = self.cell_centers[query_index]  # (B, P, 2)
        query_feat = self.decoder[0](query_feat, bev_flat, query_pos, self.cell_centers[None])

        preds = {
            name: value.transpose(1, 2)
            for name, value in self.prediction_heads[0](query_feat.transpose(1, 2)).items()
        }
        preds['cls_logits'] = preds.pop('heatmap')
        preds.update(
            heatmap=heatmap,
            query_index=query_index,
            query_labels=query_labels,
            query_pos=query_pos,
            query_heatmap_score=peaks.gather(
                2, query_index[:, None].expand(-1, self.num_classes, -1)).transpose(1, 2))
        return ([preds], )

    # ----------------------------------------------------------------------------------------
    # training
    # ----------------------------------------------------------------------------------------
    def loss(self, feats: Sequence[Tensor], batch_data_samples: List[Det3DDataSample], *args,
             **kwargs) -> Dict[str, Tensor]:
        """Forward and losses.

        Args:
            feats (list[Tensor]): one BEV map ``(B, C, H, W)``.
            batch_data_samples (list[Det3DDataSample]): ``gt_instances_3d`` with ``bboxes_3d``
                (9-dim boxes with velocity) and ``labels_3d``.

        Returns:
            dict[str, Tensor]: ``loss_heatmap``, ``loss_cls``, ``loss_bbox``.
        """
        outs = self(feats)
        return self.loss_by_feat(outs, [ds.gt_instances_3d for ds in batch_data_samples])

    def loss_by_feat(self, preds_dicts: Tuple[List[PredsDict]],
                     batch_gt_instances_3d: List[InstanceData], *args,
                     **kwargs) -> Dict[str, Tensor]:
        """Losses from :meth:`forward`'s output.

        Args:
            preds_dicts (tuple[list[dict]]): output of :meth:`forward`.
            batch_gt_instances_3d (list[InstanceData]): per sample ``bboxes_3d`` and
                ``labels_3d``; labels outside ``[0, K)`` (e.g. -1 for ignored) are dropped.

        Returns:
            dict[str, Tensor]: ``loss_heatmap``, ``loss_cls``, ``loss_bbox``.
        """
        preds = preds_dicts[0][0]
        if len(batch_gt_instances_3d) != preds['heatmap'].shape[0]:
            raise ValueError(f'{len(batch_gt_instances_3d)} ground-truth samples for a batch of '
                             f'{preds["heatmap"].shape[0]}')
        targets = [
            self.get_targets_single(preds, index, gt)
            for index, gt in enumerate(batch_gt_instances_3d)
        ]
        heat_targets, labels, bbox_targets, bbox_weights = (
            torch.stack([t[i] for t in targets]) for i in range(4))
        avg_factor = max(float(sum(t[4] for t in targets)), 1.0)

        codes = self.bbox_coder.join(preds)
        loss_cls = self.loss_cls(
            preds['cls_logits'].reshape(-1, self.num_classes),
            labels.reshape(-1),
            avg_factor=avg_factor)
        loss_bbox = self.loss_bbox(
            codes.reshape(-1, CODE_SIZE),
            bbox_targets.reshape(-1, CODE_SIZE),
            bbox_weights.reshape(-1, CODE_SIZE),
            avg_factor=avg_factor)
        heat = preds['heatmap'].sigmoid().clamp(HEATMAP_EPS, 1 - HEATMAP_EPS)
        loss_heatmap = self.loss_heatmap(
            heat, heat_targets, avg_factor=max(float(heat_targets.eq(1).sum()), 1.0))
        return dict(loss_heatmap=loss_heatmap, loss_cls=loss_cls, loss_bbox=loss_bbox)

    def get_targets_single(
            self, preds: PredsDict, index: int,
            gt_instances: InstanceData) -> Tuple[Tensor, Tensor, Tensor, Tensor, int]:
        """Targets of one sample: Gaussian heatmap and Hungarian-matched query targets.

        Args:
            preds (dict[str, Tensor]): ``outs[0][0]`` of :meth:`forward` (whole batch).
            index (int): the sample's index in the batch.
            gt_instances (InstanceData): ``bboxes_3d`` (9 dims) and ``labels_3d``.

        Returns:
            tuple: ``heatmap`` ``(K, H, W)``; ``labels`` ``(P,)`` long, ``K`` for background;
            ``bbox_targets`` ``(P, 10)`` codes; ``bbox_weights`` ``(P, 10)`` (code weights for
            matched queries, 0 otherwise); the number of matched queries.
        """
        device = preds['heatmap'].device
        boxes, labels = gt_instances.bboxes_3d, gt_instances.labels_3d.to(device).long()
        if boxes.tensor.shape[-1] != 9:
            raise ValueError('BEVTransFusionHead needs 9-dim gt boxes (x, y, z, dx, dy, dz, yaw, '
                             f'vx, vy), got {boxes.tensor.shape[-1]} dims')
        valid = (labels >= 0) & (labels < self.num_classes)
        boxes, labels = boxes[valid].to(device), labels[valid]
        gt_boxes = torch.cat([boxes.gravity_center, boxes.tensor[:, 3:]], dim=1)
        heatmap = gaussian_heatmap_targets(gt_boxes, labels, self.grid, self.num_classes,
                                           self.train_cfg.get('gaussian_overlap', 0.1),
                                           self.train_cfg.get('min_radius', 2))

        query_pos = preds['query_pos'][index]
        codes = self.bbox_coder.join({name: preds[name][index] for name, _ in CODE_FIELDS})
        with torch.no_grad():
            pred_boxes = self.bbox_coder.decode(codes.detach(), query_pos)
            pred_instances = InstanceData(
                scores=preds['cls_logits'][index].detach(),
                bboxes_3d=gravity_to_boxes(pred_boxes, type(boxes)))
            gt_for_match = InstanceData(labels=labels, bboxes_3d=boxes)
            assign = self.assigner.assign(
                pred_instances, gt_for_match, img_meta=dict(bev_range=self.grid.bev_range))

        positive = assign.gt_inds > 0
        matched = assign.gt_inds[positive] - 1
        num_queries = query_pos.shape[0]
        label_targets = labels.new_full((num_queries, ), self.num_classes)
        label_targets[positive] = labels[matched]
        bbox_targets = codes.new_zeros((num_queries, CODE_SIZE))
        bbox_targets[positive] = self.bbox_coder.encode(gt_boxes[matched].to(codes.dtype),
                                                        query_pos[positive])
        bbox_weights = codes.new_zeros((num_queries, CODE_SIZE))
        bbox_weights[positive] = self.code_weights.to(codes.dtype)
        return heatmap, label_targets, bbox_targets, bbox_weights, int(positive.sum())

    # ----------------------------------------------------------------------------------------
    # inference
    # ----------------------------------------------------------------------------------------
    def predict(self,
                feats: Sequence[Tensor],
                batch_data_samples: List[Det3DDataSample],
                rescale: bool = True,
                **kwargs) -> List[InstanceData]:
        """Forward and decoding; see :meth:`predict_by_feat`."""
        outs = self(feats)
        return self.predict_by_feat(outs, [ds.metainfo for ds in batch_data_samples])

    def predict_by_feat(self, preds_dicts: Tuple[List[PredsDict]], batch_input_metas: List[dict],
                        *args, **kwargs) -> List[InstanceData]:
        """Decodes the queries into detections, best first.

        As upstream, a query keeps the class of its proposal: its score is
        ``sigmoid(cls_logits)`` of that class (times the suppressed heatmap probability there
        if ``use_heatmap_score``), so two queries on one cell keep their two classes. Queries
        under ``score_threshold`` or with a bottom centre outside ``post_center_limit_range``
        are dropped and at most ``max_per_img`` are kept.

        Args:
            preds_dicts (tuple[list[dict]]): output of :meth:`forward`.
            batch_input_metas (list[dict]): per sample meta; ``box_type_3d`` gives the box class
                (default ``LiDARInstance3DBoxes``).

        Returns:
            list[InstanceData]: per sample, as CenterHead returns: ``bboxes_3d`` (9-dim boxes,
            bottom centre as mmdet3d boxes store it), ``scores_3d`` ``(N,)`` in ``[0, 1]``,
            ``labels_3d`` ``(N,)`` int32.
        """
        preds = preds_dicts[0][0]
        cfg = self.test_cfg
        boxes = self.bbox_coder.decode(self.bbox_coder.join(preds), preds['query_pos'])
        probs = preds['cls_logits'].sigmoid() * F.one_hot(preds['query_labels'],
                                                          self.num_classes).to(boxes.dtype)
        if cfg.get('use_heatmap_score', True):
            probs = probs * preds['query_heatmap_score']
        scores, labels = probs.max(dim=-1)
        max_num = cfg.get('max_per_img', self.num_proposals)
        center_range = cfg.get('post_center_limit_range')

        results = []
        for index, meta in enumerate(batch_input_metas):
            keep = scores[index] >= cfg.get('score_threshold', 0.0)
            if center_range is not None:
                centers = boxes[index, :, :3].clone()
                centers[:, 2] -= boxes[index, :, 5] * 0.5  # bottom centre, as upstream
                keep &= (centers >= centers.new_tensor(center_range[:3])).all(dim=-1)
                keep &= (centers <= centers.new_tensor(center_range[3:])).all(dim=-1)
            kept = keep.nonzero().squeeze(1)
            kept = kept[scores[index, kept].argsort(descending=True)[:max_num]]
            instances = InstanceData()
            instances.bboxes_3d = gravity_to_boxes(boxes[index, kept],
                                                   meta.get('box_type_3d', LiDARInstance3DBoxes))
            instances.scores_3d = scores[index, kept]
            instances.labels_3d = labels[index, kept].int()
            results.append(instances)
        return results


def gravity_to_boxes(boxes: Tensor, box_type: type) -> BaseInstance3DBoxes:
    """Wraps gravity-centre boxes ``(N, 9)`` in an mmdet3d box class (which stores the bottom
    centre), as CenterHead does."""
    bottom = boxes.clone()
    bottom[:, 2] = bottom[:, 2] - bottom[:, 5] * 0.5
    return box_type(bottom, box_dim=bottom.shape[-1])
