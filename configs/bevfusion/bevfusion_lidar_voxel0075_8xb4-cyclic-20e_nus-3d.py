# LiDAR-only BEVFusion at the paper's size: the teacher without its camera branch, with the
# TransFusion head of the published LiDAR-only model (mmdet3d's
# bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d, 64.9 mAP / 69.6 NDS), whose
# weights load after tools/model_converters/mmdet3d_bevfusion.py.
_base_ = ['./bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py']

grid = dict(
    grid_size={{_base_.grid_size}},
    voxel_size={{_base_.voxel_size}},
    out_size_factor={{_base_.out_size_factor}},
    point_cloud_range={{_base_.point_cloud_range}})
model = dict(
    img_backbone=None, img_neck=None, view_transform=None, fusion_layer=None,
    data_preprocessor=dict(mean=None, std=None),
    # the same block as the LiDAR + camera teacher's (..._swint-voxel0075-transfusion_...)
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
train_dataloader = dict(
    dataset=dict(dataset=dict(pipeline={{_base_.lidar_train_pipeline}},
                              modality=dict(use_lidar=True, use_camera=False))))
val_dataloader = dict(
    dataset=dict(pipeline={{_base_.lidar_test_pipeline}},
                 modality=dict(use_lidar=True, use_camera=False)))
test_dataloader = val_dataloader
# BEVFusion's teacher recipe, stage 1 (configs/nuscenes/det/transfusion/secfpn/default.yaml):
# the cyclic 20 epochs at lr 1e-4.
optim_wrapper = dict(optimizer=dict(lr=1e-4))
# GT-paste (in the LiDAR pipeline of _base_/datasets/nus-3d.py) stops after epoch 15 of 20.
# A default_hooks entry (a dict, merged with the runtime's) keeps the runtime's custom_hooks.
default_hooks = dict(gt_paste_stop=dict(type='DisableObjectSampleHook', disable_after_epoch=15))
