# SimDistill at the paper's size (Table 1: 40.4 mAP / 45.3 NDS with Swin-T): the LiDAR + camera
# BEVFusion teacher with the TransFusion head (the head of the public BEVFusion checkpoint),
# frozen, distilled into the Swin-T student with a CenterHead. Recipe: AdamW 2e-4, wd 0.01,
# clip 35, cyclic 20 epochs, CBGS, AMP, effective batch 48 = 8 GPUs x 3 x 2 accumulation steps.
# The TransFusion teacher regresses boxes per query, so the prediction term distils its dense
# heatmap (class by class into the student's tasks) and loss_distill_reg is off; with a
# CenterHead teacher (the release's) set teacher to the CenterHead config and turn it on.
_base_ = ['./simdistill-student_swint_8xb4-cyclic-20e_nus-3d.py']

teacher_config = '{{ fileDirname }}/../bevfusion/bevfusion_lidar-cam_swint-voxel0075-transfusion_8xb4-cyclic-20e_nus-3d.py'  # noqa
teacher_ckpt = 'checkpoints/simdistill_teacher_bevfusion_lidar-cam_swint-transfusion.pth'
student_model = {{_base_.model}}
model = dict(
    _delete_=True,
    type='SimDistill',
    student=student_model,
    teacher=teacher_config,
    teacher_ckpt=teacher_ckpt,
    lidar_adapter=dict(type='BEVConvFuser', in_channels=[{{_base_.bev_channels}}],
                       out_channels=256),
    # the distillation terms and masks keep SimDistill's defaults (the paper's weights):
    # loss_distill_{camera,lidar,fused,heatmap,reg}, feature_masks (see the README's table)
    loss_distill_reg=None,
    class_names={{_base_.class_names}})
train_dataloader = dict(
    batch_size=3, dataset=dict(dataset=dict(pipeline={{_base_.train_pipeline}})))
optim_wrapper = dict(accumulative_counts=2)
auto_scale_lr = dict(enable=False, base_batch_size=48)
