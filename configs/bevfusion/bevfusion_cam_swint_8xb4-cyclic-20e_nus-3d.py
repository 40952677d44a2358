# Camera-only baseline BEVFusion-C at the paper's size (35.5 mAP / 41.2 NDS in SimDistill's
# Table 1): the teacher's Swin-T camera branch, decoder and head, images only.
_base_ = ['./bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py']

model = dict(
    data_preprocessor=dict(voxel=False),
    view_transform=dict(lidar_depth_channels=0),
    pts_voxel_encoder=None,
    pts_middle_encoder=None,
    fusion_layer=None,
    pts_backbone=dict(in_channels={{_base_.model.view_transform.out_channels}}))  # camera BEV
train_dataloader = dict(dataset=dict(dataset=dict(pipeline={{_base_.camera_train_pipeline}})))
val_dataloader = dict(dataset=dict(pipeline={{_base_.camera_test_pipeline}}))
test_dataloader = val_dataloader
