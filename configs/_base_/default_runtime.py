default_scope = 'mmdet3d'
# simdistill registers the plugin's modules; simdistill.compat.enable applies its torch 2.13
# shims (checkpoint loading, spconv and DDP on CPU) to the process that reads this config.
custom_imports = dict(
    imports=['simdistill', 'simdistill.compat.enable'], allow_failed_imports=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='Det3DVisualizationHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Det3DLocalVisualizer', vis_backends=vis_backends, name='visualizer')
# SeedEachEpochHook: a run resumed from an epoch-end checkpoint draws the same augmentations
# as the uninterrupted run (mmengine reseeds once per process, not per epoch).
custom_hooks = [dict(type='FlushDenormalHook'), dict(type='SeedEachEpochHook')]
# Every parameter of every model here takes part in each loss
# (tests/test_models/test_unused_parameters.py), so DDP skips the search for unused ones.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=False)
