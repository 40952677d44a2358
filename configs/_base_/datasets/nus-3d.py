# nuScenes 3D detection: the facts every config shares (classes, ranges, grids, files), once.
# The paper's settings (SimDistill / BEVFusion, nuScenes val, 256x704 images).
class_names = [
    'car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle',
    'bicycle', 'pedestrian', 'traffic_cone'
]
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
post_center_range = [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]
voxel_size = [0.075, 0.075, 0.2]
grid_size = [1440, 1440, 41]  # voxels (x, y, z); the BEV maps are 180 x 180 (stride 8)
bev_stride = 8
# Camera LSS: 0.3 m cells pooled, then downsampled x2 onto the same 180 x 180 grid.
camera_bev = dict(
    xbound=[-54.0, 54.0, 0.3], ybound=[-54.0, 54.0, 0.3], zbound=[-10.0, 10.0, 20.0],
    dbound=[1.0, 60.0, 0.5], downsample=2)
image_size = [256, 704]
num_views = 6

dataset_type = 'NuScenesDataset'
data_root = 'data/nuscenes/'
version = 'v1.0-trainval'
metainfo = dict(classes=class_names, version=version)
backend_args = None
data_prefix = dict(
    pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', CAM_FRONT='samples/CAM_FRONT',
    CAM_FRONT_LEFT='samples/CAM_FRONT_LEFT', CAM_FRONT_RIGHT='samples/CAM_FRONT_RIGHT',
    CAM_BACK='samples/CAM_BACK', CAM_BACK_LEFT='samples/CAM_BACK_LEFT',
    CAM_BACK_RIGHT='samples/CAM_BACK_RIGHT')
