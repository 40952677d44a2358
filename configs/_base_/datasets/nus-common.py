# nuScenes facts shared by every setting: classes, files, the dataset and the metric.
class_names = [
    'car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle',
    'bicycle', 'pedestrian', 'traffic_cone'
]
num_views = 6
dataset_type = 'NuScenesDataset'
data_root = 'data/nuscenes/'
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
