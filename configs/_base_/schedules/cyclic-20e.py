# The paper's schedule (SimDistill; BEVFusion's LiDAR-only stage): 20 epochs, AdamW lr 2e-4,
# weight decay 0.01, gradient clipping 35, and mmcv 1.x's "cyclic" learning rate and momentum
# with their defaults (BEVFusion configs/nuscenes/det/transfusion/secfpn/default.yaml:
# `lr_config: policy: cyclic`, `momentum_config: policy: cyclic`): over the first 40 % of the
# iterations the lr rises by cosine from lr to 10 x lr and AdamW's beta1 falls from 0.9 to
# 0.9 x 0.85 / 0.95; over the rest the lr falls to 1e-4 x lr and beta1 returns to 0.9.
# Both targets are ratios of the starting value (eta_min_ratio), as in mmcv 1.x: mmdet3d 1.x's
# copy gives the momentum targets as absolute values (eta_min=0.85/0.95, then 1), which drives
# beta1 to 1.0 by the end and freezes AdamW's first moment.
max_epochs = 20
lr = 2e-4
lr_up_epochs = 8  # 40 % of 20
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=10, begin=0,
         end=lr_up_epochs, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-4,
         begin=lr_up_epochs, end=max_epochs, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min_ratio=0.85 / 0.95,
         begin=0, end=lr_up_epochs, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min_ratio=1.0,
         begin=lr_up_epochs, end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
# 8 GPUs x 3 samples x 2 accumulation steps in the paper.
auto_scale_lr = dict(enable=False, base_batch_size=48)
