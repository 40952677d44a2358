# The paper's nuScenes setting (SimDistill / BEVFusion, 256 x 704 images, 9 LiDAR sweeps):
# 0.075 m voxels, a 180 x 180 BEV grid (stride 8), the camera pooled at 0.3 m and downsampled x2
# onto the same grid, 118 depth bins over 1-60 m. Training uses CBGS class-balanced resampling.
_base_ = ['./nus-common.py']

version = 'v1.0-trainval'
metainfo = dict(classes={{_base_.class_names}}, version=version)
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
post_center_range = [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]
voxel_size = [0.075, 0.075, 0.2]
grid_size = [1440, 1440, 41]
out_size_factor = 8  # the head's maps are 180 x 180 (0.6 m cells)
bev_shape = [grid_size[1] // out_size_factor, grid_size[0] // out_size_factor]  # (ny, nx)
sparse_shape = [grid_size[2], grid_size[1], grid_size[0]]  # (nz, ny, nx)
pc_range_xy = point_cloud_range[:2]
voxel_size_xy = voxel_size[:2]
camera_bev = dict(
    xbound=[-54.0, 54.0, 0.3], ybound=[-54.0, 54.0, 0.3], zbound=[-10.0, 10.0, 20.0],
    dbound=[1.0, 60.0, 0.5], downsample=2)
image_size = [256, 704]
feature_size = [32, 88]  # image_size / 8
sweeps_num = 9
image_aug_train = dict(
    type='MultiViewImageAug3D', final_dim=image_size, resize_lim=[0.38, 0.55],
    bot_pct_lim=[0.0, 0.0], rot_lim=[-5.4, 5.4], rand_flip=True, is_train=True)
image_aug_test = dict(
    type='MultiViewImageAug3D', final_dim=image_size, resize_lim=[0.48, 0.48],
    bot_pct_lim=[0.0, 0.0], is_train=False)

load_points = [
    dict(type='CheckedLoadPointsFromFile', coord_type='LIDAR', load_dim=5, use_dim=5,
         backend_args={{_base_.backend_args}}),
    dict(type='CheckedLoadPointsFromMultiSweeps', sweeps_num=sweeps_num, load_dim=5,
         use_dim=[0, 1, 2, 3, 4], pad_empty_sweeps=True, remove_close=True,
         backend_args={{_base_.backend_args}}),
]
bev_aug = [
    dict(type='BEVGlobalRotScaleTrans', rot_range=[-0.78539816, 0.78539816],
         scale_ratio_range=[0.9, 1.1], translation_std=[0.5, 0.5, 0.5]),
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
gt_paste = {{_base_.gt_paste}}
lidar_train_pipeline = [
    *load_points, *_base_.annotations, gt_paste, *bev_aug, *points_filter, *filters,
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

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    dataset=dict(
        _delete_=True,
        type='CBGSDataset',  # class-balanced resampling
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='nuscenes_infos_train.pkl',
            pipeline=train_pipeline,
            metainfo=metainfo,
            modality=dict(use_lidar=True, use_camera=True),
            data_prefix={{_base_.data_prefix}},
            test_mode=False,
            use_valid_flag=True,
            box_type_3d='LiDAR',
            isolate_transform_randomness=True,  # paired augmentations (nus-common.py)
            backend_args={{_base_.backend_args}})))
val_dataloader = dict(
    num_workers=4, dataset=dict(pipeline=test_pipeline, metainfo=metainfo))
test_dataloader = val_dataloader
