# The teacher with BEVFusion's usual head: TransFusion (200 heatmap-initialised queries, one
# decoder layer, Hungarian assignment with focal + L1 + IoU costs).
_base_ = ['./bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py']

grid = dict(
    grid_size={{_base_.grid_size}},
    voxel_size={{_base_.voxel_size}},
    out_size_factor={{_base_.out_size_factor}},
    point_cloud_range={{_base_.point_cloud_range}})
model = dict(
    bbox_head=dict(
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
            **grid,
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
            **grid,
            score_threshold=0.0,
            max_per_img=200,
            post_center_limit_range={{_base_.post_center_range}})))

# BEVFusion's two-stage teacher recipe, stage 2 (configs/nuscenes/det/transfusion/secfpn/
# camera+lidar/swint_v0p075/default.yaml): the fusion model starts from the LiDAR-only model
# (stage 1: bevfusion_lidar_voxel0075_8xb4-cyclic-20e_nus-3d.py, 20 epochs, GT-paste) and trains
# 6 epochs at lr 2e-4 without GT-paste: cosine to 1e-3 x lr stepped per epoch, after a linear
# warm-up over 500 iterations from lr / 3; beta1 follows mmcv 1.x's cyclic momentum over the
# 6 epochs (0.4 x 6 = 2.4 down, then back).
fusion_epochs = 6
momentum_down_epochs = 2.4  # 40 % of 6
load_from = 'checkpoints/bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d.pth'
optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [
    # mmengine's LinearLR reaches end_factor at iteration end - 1: end=501 gives mmcv 1.x's
    # lr x (1/3 + 2/3 x i / 500) for the first 500 iterations.
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=501),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-3, begin=0,
         end=fusion_epochs, by_epoch=True),
    dict(type='CosineAnnealingMomentum', eta_min_ratio=0.85 / 0.95,
         begin=0, end=momentum_down_epochs, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min_ratio=1.0,
         begin=momentum_down_epochs, end=fusion_epochs, by_epoch=True,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=fusion_epochs, val_interval=fusion_epochs)
