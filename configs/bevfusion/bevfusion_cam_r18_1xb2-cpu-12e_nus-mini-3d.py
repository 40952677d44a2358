# Camera-only baseline (BEVFusion-C) at CPU size: the teacher's camera branch, decoder and head
# with no LiDAR anywhere -- an images-only LSS, no points in the inputs, train or test.
_base_ = ['./bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py']

model = dict(
    data_preprocessor=dict(voxel=False),
    view_transform=dict(lidar_depth_channels=0),
    pts_voxel_encoder=None,
    pts_middle_encoder=None,
    pts_bev_encoder=None,
    fusion_layer=None,
    pts_backbone=dict(in_channels={{_base_.model.view_transform.out_channels}}))  # camera BEV
train_dataloader = dict(dataset=dict(pipeline={{_base_.camera_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.camera_test_pipeline}}))
test_dataloader = val_dataloader
