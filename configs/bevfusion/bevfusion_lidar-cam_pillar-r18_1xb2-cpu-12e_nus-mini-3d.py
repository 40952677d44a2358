# The BEVFusion teacher at CPU size: LiDAR pillars + a ResNet-18 (half width, from scratch)
# camera branch with depth-aware LSS, conv fuser, SECOND + SECONDFPN decoder, CenterHead.
_base_ = [
    '../_base_/datasets/nus-mini-3d-small.py', '../_base_/schedules/adamw-cosine-cpu.py',
    '../_base_/default_runtime.py'
]
point_cloud_range = {{_base_.point_cloud_range}}
post_center_range = {{_base_.post_center_range}}
voxel_size = {{_base_.voxel_size}}
grid_size = {{_base_.grid_size}}
norm_2d = dict(type='BN', eps=1e-3, momentum=0.01)
# The camera branch starts from an image backbone + neck pre-trained on the training images
# (tools/pretrain_image_backbone.py, the "pretrain" stage of tools/run_pipeline.sh), as
# BEVFusion's Swin-T starts from nuImages: one initialisation for the teacher, the camera
# baseline and the student. Set both init_cfg to None to train from scratch.
image_pretrain = '{{ fileDirname }}/../../work_dirs/pretrain/resnet18-half_nus-mini-synthetic_depth-cls.pth'  # noqa

model = dict(
    type='BEVFusionDetector',
    data_preprocessor=dict(
        type='Det3DDataPreprocessor',
        mean={{_base_.img_mean}},
        std={{_base_.img_std}},
        bgr_to_rgb=True,
        pad_size_divisor=32,
        voxel=True,
        voxel_type='hard',
        voxel_layer=dict(
            max_num_points=32,
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            max_voxels=(16384, 16384))),
    img_backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=image_pretrain, prefix='img_backbone.')),
    # BEVFusion's concatenating top-down FPN, as the paper teacher's: every layer feeds the
    # stride-8 output the view transform reads, so no parameter goes unused.
    img_neck=dict(
        type='LSSFPNNeck',
        in_channels=[64, 128, 256],
        out_channels=64,
        init_cfg=dict(type='Pretrained', checkpoint=image_pretrain, prefix='img_neck.')),
    img_neck_out_index=0,  # stride 8
    view_transform=dict(
        type='LSSViewTransform',
        in_channels=64,
        out_channels=32,
        lidar_depth_channels=32,
        image_size={{_base_.image_size}},
        feature_size={{_base_.feature_size}},
        xbound={{_base_.camera_bev.xbound}},
        ybound={{_base_.camera_bev.ybound}},
        zbound={{_base_.camera_bev.zbound}},
        dbound={{_base_.camera_bev.dbound}},
        downsample={{_base_.camera_bev.downsample}}),
    pts_voxel_encoder=dict(
        type='PillarFeatureNet',
        in_channels=5,
        feat_channels=[64],
        with_distance=False,
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
        norm_cfg=dict(type='BN1d', eps=1e-3, momentum=0.01)),
    pts_middle_encoder=dict(
        type='PointPillarsScatter', in_channels=64, output_shape={{_base_.bev_shape}}),
    fusion_layer=dict(type='BEVConvFuser', in_channels=[32, 64], out_channels=64),
    pts_backbone=dict(
        type='SECOND',
        in_channels=64,
        out_channels=[64, 128],
        layer_nums=[2, 2],
        layer_strides=[2, 2],
        norm_cfg=norm_2d,
        conv_cfg=dict(type='Conv2d', bias=False)),
    pts_neck=dict(
        type='SECONDFPN',
        in_channels=[64, 128],
        out_channels=[64, 64],
        upsample_strides=[1, 2],
        norm_cfg=norm_2d,
        upsample_cfg=dict(type='deconv', bias=False),
        use_conv_for_no_stride=True),
    bbox_head=dict(
        type='PriorInitCenterHead',
        in_channels=128,
        tasks={{_base_.tasks}},
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=32,
        bbox_coder=dict(
            type='CenterPointBBoxCoder',
            pc_range={{_base_.pc_range_xy}},
            post_center_range=post_center_range,
            max_num=500,
            score_threshold=0.1,
            out_size_factor={{_base_.out_size_factor}},
            voxel_size={{_base_.voxel_size_xy}},
            code_size=9),
        separate_head=dict(type='SeparateHead', head_conv=32, init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True,
        train_cfg=dict(
            grid_size=grid_size,
            voxel_size=voxel_size,
            out_size_factor={{_base_.out_size_factor}},
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=500,
            min_radius=2,
            code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],
            point_cloud_range=point_cloud_range),
        test_cfg=dict(
            post_center_limit_range=post_center_range,
            max_per_img=500,
            max_pool_nms=False,
            min_radius=[4, 12, 10, 1, 0.85, 0.175],
            score_threshold=0.1,
            out_size_factor={{_base_.out_size_factor}},
            voxel_size={{_base_.voxel_size_xy}},
            pre_max_size=1000,
            post_max_size=83,
            nms_type='rotate',
            nms_thr=0.2,
            pc_range={{_base_.pc_range_xy}})))
