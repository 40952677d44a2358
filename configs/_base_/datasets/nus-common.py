# nuScenes facts shared by every setting: classes, files, the dataset and the metric.
class_names = [
    'car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle',
    'bicycle', 'pedestrian', 'traffic_cone'
]
num_views = 6
dataset_type = 'CheckedNuScenesDataset'  # mmdet3d's NuScenesDataset, inputs checked
# Anchored at the repository (this file is configs/_base_/datasets/), so tools/train.py and
# `mim train` find it from any working directory; real nuScenes goes there too (or a symlink).
data_root = '{{ fileDirname }}/../../../data/nuscenes/'
backend_args = None
data_prefix = dict(
    pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', CAM_FRONT='samples/CAM_FRONT',
    CAM_FRONT_LEFT='samples/CAM_FRONT_LEFT', CAM_FRONT_RIGHT='samples/CAM_FRONT_RIGHT',
    CAM_BACK='samples/CAM_BACK', CAM_BACK_LEFT='samples/CAM_BACK_LEFT',
    CAM_BACK_RIGHT='samples/CAM_BACK_RIGHT')
# Keys Pack3DDetInputs must carry for the LSS geometry (simdistill.datasets.transforms).
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'cam2img', 'lidar2cam',
             'lidar2img', 'img_aug_matrix', 'lidar_aug_matrix', 'num_views', 'box_mode_3d',
             'box_type_3d', 'sample_idx', 'lidar_path', 'num_pts_feats', 'flip',
             'pcd_horizontal_flip', 'pcd_vertical_flip', 'pcd_trans', 'pcd_scale_factor',
             'pcd_rotation', 'pcd_rotation_angle', 'transformation_3d_flow', 'ego2global')
# Pipeline steps that take no number of a setting; each setting (nus-3d.py, nus-mini-3d-small.py)
# composes its pipelines from these and its own sized steps.
load_images = [
    dict(type='LoadMultiViewImagesWithCalib', to_float32=True, color_type='color',
         num_views=num_views, backend_args=backend_args),
]
annotations = [
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True, with_attr_label=False)
]
# Image normalisation (ImageNet statistics, RGB).
img_mean = [123.675, 116.28, 103.53]
img_std = [58.395, 57.12, 57.375]
# CenterHead tasks of CenterPoint on nuScenes.
tasks = [
    dict(num_class=1, class_names=['car']),
    dict(num_class=2, class_names=['truck', 'construction_vehicle']),
    dict(num_class=2, class_names=['bus', 'trailer']),
    dict(num_class=1, class_names=['barrier']),
    dict(num_class=2, class_names=['motorcycle', 'bicycle']),
    dict(num_class=2, class_names=['pedestrian', 'traffic_cone']),
]

# Datasets, loaders and the metric; each setting (nus-3d.py, nus-mini-3d-small.py) adds its
# pipelines and release version.
train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='nuscenes_infos_train.pkl',
    modality=dict(use_lidar=True, use_camera=True),
    data_prefix=data_prefix,
    test_mode=False,
    use_valid_flag=True,
    box_type_3d='LiDAR',
    backend_args=backend_args)
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # each random transform draws from its own stream: the camera baseline and the distiller
    # (whose pipeline also loads and shuffles points) draw the same augmentations per sample
    dataset=dict(train_dataset, isolate_transform_randomness=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataset, ann_file='nuscenes_infos_val.pkl', test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CheckedNuScenesMetric',  # mmdet3d's NuScenesMetric, devkit errors name the file
    data_root=data_root,
    ann_file=data_root + 'nuscenes_infos_val.pkl',
    metric='bbox',
    backend_args=backend_args)
test_evaluator = val_evaluator
# GT-paste for BEVFusion's LiDAR-only stage (configs/nuscenes/default.yaml `ObjectPaste`, stopped
# after epoch 15 in det/transfusion/secfpn/lidar/default.yaml): objects cut from other training
# scans (nuscenes_dbinfos_train.pkl and nuscenes_gt_database/, written by tools/create_data.py)
# are pasted into each scan before augmentation.
gt_paste = dict(
    type='ObjectSample',
    db_sampler=dict(
        type='NumpyCompatDataBaseSampler',  # mmdet3d's DataBaseSampler on numpy >= 1.24
        data_root=data_root,
        info_path=data_root + 'nuscenes_dbinfos_train.pkl',
        rate=1.0,
        prepare=dict(
            filter_by_difficulty=[-1],
            filter_by_min_points=dict(
                car=5, truck=5, construction_vehicle=5, bus=5, trailer=5, barrier=5,
                motorcycle=5, bicycle=5, pedestrian=5, traffic_cone=5)),
        classes=class_names,
        sample_groups=dict(
            car=2, truck=3, construction_vehicle=7, bus=4, trailer=6, barrier=2, motorcycle=6,
            bicycle=6, pedestrian=2, traffic_cone=2),
        points_loader=dict(
            type='CheckedLoadPointsFromFile', coord_type='LIDAR', load_dim=5,
            use_dim=[0, 1, 2, 3, 4], backend_args=backend_args),
        backend_args=backend_args))
