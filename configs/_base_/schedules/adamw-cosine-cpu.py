# Short CPU schedule: AdamW with gradient clipping (SimDistill/BEVFusion use AdamW, weight decay
# 0.01, clip 35), linear warm-up then cosine decay, validation at the end.
max_epochs = 12
lr = 2e-3
# Non-finite losses and gradients stop training, naming the iteration and the loss term
# (simdistill's NonFiniteGuardOptimWrapper; under DDP all ranks stop at that step). 'raise',
# not 'skip': here a NaN has meant a bug or a divergence, which skipping would hide and repeat;
# fix it and --resume from the last checkpoint ('skip' drops such steps with a warning).
optim_wrapper = dict(
    type='NonFiniteGuardOptimWrapper',
    on_non_finite='raise',
    optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=lr * 1e-2, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=2)
