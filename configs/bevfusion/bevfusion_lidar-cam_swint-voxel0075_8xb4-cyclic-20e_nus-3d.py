# The SimDistill teacher at the paper's size: BEVFusion with a Swin-T camera branch
# (depth-aware LSS, 80 channels, 0.3 m pooling, x2 downsample) and 0.075 m voxels through a
# sparse encoder, ConvFuser(80 + 256 -> 256), SECOND + SECONDFPN, CenterHead (as released).
_base_ = [
    '../_base_/datasets/nus-3d.py', '../_base_/models/bevfusion-centerhead.py',
    '../_base_/schedules/cyclic-20e.py', '../_base_/default_runtime.py'
]
point_cloud_range = {{_base_.point_cloud_range}}
post_center_range = {{_base_.post_center_range}}
voxel_size = {{_base_.voxel_size}}
grid_size = {{_base_.grid_size}}

# The sizes; types, norms, losses and the head's settings come from the model base.
model = dict(
    data_preprocessor=dict(
        mean={{_base_.img_mean}},
        std={{_base_.img_std}},
        voxel_layer=dict(
            max_num_points=10,
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            max_voxels=(120000, 160000))),
    img_backbone=dict(
        type='mmdet.SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=[1, 2, 3],
        with_cp=False,
        convert_weights=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
            'swin_tiny_patch4_window7_224.pth')),
    img_neck=dict(in_channels=[192, 384, 768], out_channels=256),
    view_transform=dict(
        in_channels=256,
        out_channels=80,
        lidar_depth_channels=64,
        image_size={{_base_.image_size}},
        feature_size={{_base_.feature_size}},
        xbound={{_base_.camera_bev.xbound}},
        ybound={{_base_.camera_bev.ybound}},
        zbound={{_base_.camera_bev.zbound}},
        dbound={{_base_.camera_bev.dbound}},
        downsample={{_base_.camera_bev.downsample}}),
    pts_voxel_encoder=dict(type='HardSimpleVFE', num_features=5),
    pts_middle_encoder=dict(
        type='SparseEncoder',
        in_channels=5,
        sparse_shape={{_base_.sparse_shape}},
        order=('conv', 'norm', 'act'),
        norm_cfg=dict(type='BN1d', eps=1e-3, momentum=0.01),
        encoder_channels=((16, 16, 32), (32, 32, 64), (64, 64, 128), (128, 128)),
        # (z, y, x) padding order of mmdet3d's encoder: BEVFusion's [1, 1, 0] is in (x, y, z).
        encoder_paddings=((0, 0, 1), (0, 0, 1), (0, 0, [0, 1, 1]), (0, 0)),
        block_type='basicblock'),
    fusion_layer=dict(in_channels=[80, 256], out_channels=256),
    pts_backbone=dict(in_channels=256, out_channels=[128, 256], layer_nums=[5, 5],
                      layer_strides=[1, 2]),
    pts_neck=dict(in_channels=[128, 256], out_channels=[256, 256]),
    bbox_head=dict(
        in_channels=512,
        tasks={{_base_.tasks}},
        share_conv_channel=64,
        bbox_coder=dict(
            pc_range={{_base_.pc_range_xy}},
            post_center_range=post_center_range,
            out_size_factor={{_base_.out_size_factor}},
            voxel_size={{_base_.voxel_size_xy}}),
        train_cfg=dict(
            grid_size=grid_size,
            voxel_size=voxel_size,
            out_size_factor={{_base_.out_size_factor}},
            point_cloud_range=point_cloud_range),
        test_cfg=dict(
            post_center_limit_range=post_center_range,
            out_size_factor={{_base_.out_size_factor}},
            voxel_size={{_base_.voxel_size_xy}},
            pc_range={{_base_.pc_range_xy}})))
# BEVFusion's TransFusion head (200 heatmap-initialised queries, one decoder layer, Hungarian
# assignment with focal + L1 + IoU costs): the head of both published models, shared by the
# LiDAR + camera TransFusion teacher and the LiDAR-only config.
transfusion_grid = dict(
    grid_size=grid_size, voxel_size=voxel_size,
    out_size_factor={{_base_.out_size_factor}}, point_cloud_range=point_cloud_range)
transfusion_head = dict(
    _delete_=True,
    type='BEVTransFusionHead',
    in_channels=512,
    num_classes=10,
    hidden_channels=128,
    num_proposals=200,
    nms_kernel_size=[3] * 8 + [1, 1],  # no peak suppression for pedestrian, traffic_cone
    loss_cls=dict(
        type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, reduction='mean',
        loss_weight=1.0),
    loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
    loss_heatmap=dict(type='mmdet.GaussianFocalLoss', reduction='mean', loss_weight=1.0),
    train_cfg=dict(
        **transfusion_grid,
        gaussian_overlap=0.1,
        min_radius=2,
        code_weights=[1.0] * 8 + [0.2, 0.2],
        assigner=dict(
            type='mmdet.HungarianAssigner',
            match_costs=[
                dict(type='mmdet.FocalLossCost', gamma=2.0, alpha=0.25, weight=0.15),
                dict(type='BEVCenterL1Cost', weight=0.25),
                dict(type='BoxIoU3DCost', iou_type='3d', weight=0.25)
            ])),
    test_cfg=dict(
        **transfusion_grid,
        score_threshold=0.0,
        max_per_img=200,
        post_center_limit_range={{_base_.post_center_range}}))
# Swin-T camera backbone: 0.1 x lr (it starts from ImageNet weights) and no weight decay on its
# relative-position tables (nor absolute embeddings, when used), as Swin is trained. mmengine
# applies only the longest matching key, so the position keys repeat the lr multiplier.
swin_lr_mult = 0.1
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'img_backbone': dict(lr_mult=swin_lr_mult),
            'absolute_pos_embed': dict(lr_mult=swin_lr_mult, decay_mult=0.0),
            'relative_position_bias_table': dict(lr_mult=swin_lr_mult, decay_mult=0.0)
        }))
