# LiDAR-only BEVFusion at the paper's size: the teacher without its camera branch, with the
# TransFusion head of the published LiDAR-only model (mmdet3d's
# bevfusion_lidar_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d, 64.9 mAP / 69.6 NDS), whose
# weights load after tools/model_converters/mmdet3d_bevfusion.py.
_base_ = ['./bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py']

model = dict(
    img_backbone=None, img_neck=None, view_transform=None, fusion_layer=None,
    data_preprocessor=dict(mean=None, std=None),
    bbox_head={{_base_.transfusion_head}})
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
