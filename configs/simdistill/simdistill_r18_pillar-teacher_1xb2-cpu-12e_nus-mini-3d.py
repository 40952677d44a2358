# SimDistill at CPU size: the CPU BEVFusion teacher (pillars + ResNet-18, CenterHead), frozen,
# distilled into the CPU student. Training loads points + images (the teacher's inputs; the
# student only ever receives the images); validation and test are images only.
_base_ = ['./simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py']

teacher_config = '{{ fileDirname }}/../bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'  # noqa
# What tools/run_pipeline.sh trains; point it elsewhere with
# --cfg-options model.teacher_ckpt=PATH.
teacher_ckpt = 'work_dirs/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d/epoch_12.pth'
student_model = {{_base_.model}}
model = dict(
    _delete_=True,
    type='SimDistill',
    student=student_model,
    teacher=teacher_config,
    teacher_ckpt=teacher_ckpt,
    # simulated-LiDAR BEV (32 ch) -> the teacher's LiDAR-BEV width (64 ch), for the loss only
    lidar_adapter=dict(type='BEVConvFuser', in_channels=[{{_base_.bev_channels}}],
                       out_channels=64),
    # the distillation terms and masks keep SimDistill's defaults (the paper's weights):
    # loss_distill_{camera,lidar,fused,heatmap,reg}, feature_masks (see the README's table)
    class_names={{_base_.class_names}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
