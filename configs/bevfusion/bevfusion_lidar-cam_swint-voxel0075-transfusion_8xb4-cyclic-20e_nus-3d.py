# The teacher with BEVFusion's usual head: TransFusion (200 heatmap-initialised queries, one
# decoder layer, Hungarian assignment with focal + L1 + IoU costs).
_base_ = ['./bevfusion_lidar-cam_swint-voxel0075_8xb4-cyclic-20e_nus-3d.py']

model = dict(bbox_head={{_base_.transfusion_head}})

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
