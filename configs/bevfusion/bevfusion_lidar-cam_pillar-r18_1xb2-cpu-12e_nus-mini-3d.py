# The BEVFusion teacher at CPU size: LiDAR pillars (+ 3 BEV conv layers) + a ResNet-18 (half width, pre-trained on the
# training images) camera branch with depth-aware LSS, conv fuser, SECOND + SECONDFPN, CenterHead.
_base_ = [
    '../_base_/datasets/nus-mini-3d-small.py', '../_base_/models/bevfusion-centerhead.py',
    '../_base_/schedules/adamw-cosine-cpu.py', '../_base_/default_runtime.py'
]
point_cloud_range = {{_base_.point_cloud_range}}
post_center_range = {{_base_.post_center_range}}
voxel_size = {{_base_.voxel_size}}
grid_size = {{_base_.grid_size}}
# The camera branch starts from an image backbone + neck pre-trained on the training images
# (tools/pretrain_image_backbone.py, the "pretrain" stage of tools/run_pipeline.sh), as
# BEVFusion's Swin-T starts from nuImages: one initialisation for the teacher, the camera
# baseline and the student. Set both init_cfg to None to train from scratch.
image_pretrain = '{{ fileDirname }}/../../work_dirs/pretrain/resnet18-half_nus-mini-synthetic_depth-cls.pth'  # noqa

# The sizes; types, norms, losses and the head's settings come from the model base.
model = dict(
    data_preprocessor=dict(
        mean={{_base_.img_mean}},
        std={{_base_.img_std}},
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
    img_neck=dict(
        in_channels=[64, 128, 256],
        out_channels=64,
        init_cfg=dict(type='Pretrained', checkpoint=image_pretrain, prefix='img_neck.')),
    view_transform=dict(
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
    # a learned LiDAR BEV (what the student's cross-modal term distils), not the bare scatter
    pts_bev_encoder=dict(type='BEVConvEncoder', in_channels=64, out_channels=64, num_convs=3),
    fusion_layer=dict(in_channels=[32, 64], out_channels=64),
    pts_backbone=dict(in_channels=64, out_channels=[64, 128], layer_nums=[2, 2],
                      layer_strides=[2, 2]),
    pts_neck=dict(in_channels=[64, 128], out_channels=[64, 64]),
    bbox_head=dict(
        in_channels=128,
        tasks={{_base_.tasks}},
        share_conv_channel=32,
        separate_head=dict(head_conv=32),
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
