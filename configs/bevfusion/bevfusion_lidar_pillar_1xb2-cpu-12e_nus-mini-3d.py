# LiDAR-only BEVFusion at CPU size: the teacher without its camera branch.
_base_ = ['./bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py']

model = dict(
    img_backbone=None, img_neck=None, view_transform=None, fusion_layer=None,
    data_preprocessor=dict(mean=None, std=None))
train_dataloader = dict(
    dataset=dict(
        pipeline={{_base_.lidar_train_pipeline}}, modality=dict(use_lidar=True,
                                                              use_camera=False)))
val_dataloader = dict(
    dataset=dict(
        pipeline={{_base_.lidar_test_pipeline}}, modality=dict(use_lidar=True,
                                                             use_camera=False)))
test_dataloader = val_dataloader
