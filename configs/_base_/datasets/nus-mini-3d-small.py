# Small CPU setting on a nuScenes v1.0-mini layout (the synthetic data by default, the real
# v1.0-mini alike): a 128 x 128 BEV grid of 0.8 m cells, 128 x 320 images, 3 LiDAR sweeps.
_base_ = ['./nus-common.py']

version = 'v1.0-mini'
metainfo = dict(classes={{_base_.class_names}}, version=version)
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
post_center_range = [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]
voxel_size = [0.8, 0.8, 8.0]  # pillars
grid_size = [128, 128, 1]
out_size_factor = 2  # the head's maps are 64 x 64 (1.6 m cells)
bev_shape = [grid_size[1], grid_size[0]]  # (ny, nx): rows are y
pc_range_xy = point_cloud_range[:2]
voxel_size_xy = voxel_size[:2]
camera_bev = dict(
    xbound=[-51.2, 51.2, 0.8], ybound=[-51.2, 51.2, 0.8], zbound=[-10.0, 10.0, 20.0],
    dbound=[1.0, 52.0, 1.0], downsample=1)
image_size = [128, 320]
feature_size = [16, 40]  # image_size / 8
sweeps_num = 3
# The synthetic data's images are 400 x 225 (--image-scale 0.25): 0.8 x keeps the horizon.
image_aug_train = dict(
    type='MultiViewImageAug3D', final_dim=image_size, resize_lim=[0.75, 0.85],
    bot_pct_lim=[0.0, 0.0], rot_lim=[-5.4, 5.4], rand_flip=True, is_train=True)
image_aug_test = dict(
    type='MultiViewImageAug3D', final_dim=image_size, resize_lim=[0.8, 0.8],
    bot_pct_lim=[0.0, 0.0], is_train=False)

load_points = [
    dict(type='CheckedLoadPointsFromFile', coord_type='LIDAR', load_dim=5, use_dim=5,
         backend_args={{_base_.backend_args}}),
    dict(type='CheckedLoadPointsFromMultiSweeps', sweeps_num=sweeps_num, load_dim=5,
         use_dim=[0, 1, 2, 3, 4], pad_empty_sweeps=True, remove_close=True,
         backend_args={{_base_.backend_args}}),
]
bev_aug = [
    dict(type='BEVGlobalRotScaleTrans', rot_range=[-0.3925, 0.3925],
         scale_ratio_range=[0.95, 1.05], translation_std=[0.0, 0.0, 0.0]),
    dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
]
filters = [
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes={{_base_.class_names}}),
]
points_filter = [dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range)]
meta_keys = {{_base_.meta_keys}}
# LiDAR + camera (the teacher), LiDAR only, camera only (no point is loaded at test time);
# the steps that take no number of this setting (_base_.*) are nus-common.py's.
train_pipeline = [
    *load_points, *_base_.load_images, *_base_.annotations, image_aug_train, *bev_aug,
    *points_filter, *filters, dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs', keys=['points', 'img', 'gt_bboxes_3d', 'gt_labels_3d'],
         meta_keys=meta_keys)
]
test_pipeline = [
    *load_points, *_base_.load_images, image_aug_test, *points_filter,
    dict(type='Pack3DDetInputs', keys=['points', 'img'], meta_keys=meta_keys)
]
lidar_train_pipeline = [
    *load_points, *_base_.annotations, *bev_aug, *points_filter, *filters,
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs', keys=['points', 'gt_bboxes_3d', 'gt_labels_3d'],
         meta_keys=meta_keys)
]
lidar_test_pipeline = [
    *load_points, *points_filter,
    dict(type='Pack3DDetInputs', keys=['points'], meta_keys=meta_keys)
]
camera_train_pipeline = [
    *_base_.load_images, *_base_.annotations, image_aug_train, *bev_aug, *filters,
    dict(type='Pack3DDetInputs', keys=['img', 'gt_bboxes_3d', 'gt_labels_3d'],
         meta_keys=meta_keys)
]
camera_test_pipeline = [
    *_base_.load_images, image_aug_test,
    dict(type='Pack3DDetInputs', keys=['img'], meta_keys=meta_keys)
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline, metainfo=metainfo))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, metainfo=metainfo))
test_dataloader = val_dataloader
