"""Model configs made test-sized: no pre-trained file to load, the paper grids shrunk."""


def drop_image_pretrain(model_cfg):
    """Random image backbone and neck (no pre-trained file needed) in a model config, the
    student of a distiller config included."""
    for cfg in (model_cfg, model_cfg.get('student') or {}):
        for part in ('img_backbone', 'img_neck'):
            if cfg.get(part) is not None:
                cfg[part]['init_cfg'] = None
    return model_cfg


def shrink_paper_config(cfg):
    """The paper configs at a 14.4 m x 14.4 m grid and 64 x 192 images, same cells."""
    half = 7.2
    m = cfg.model
    pc_range = [-half, -half, -5.0, half, half, 3.0]
    grid = [192, 192, 41]  # 0.075 m voxels
    if m.get('view_transform'):
        for key in ('view_transform', 'sim_lidar_view_transform'):
            if m.get(key):
                m[key].update(
                    image_size=[64, 192], feature_size=[8, 24], xbound=[-half, half, 0.3],
                    ybound=[-half, half, 0.3], dbound=[1.0, 10.0, 0.5])
        m.img_backbone.init_cfg = None  # no download in tests
    if m.get('pts_middle_encoder'):
        m.pts_middle_encoder.sparse_shape = [41, 192, 192]
        m.data_preprocessor.voxel_layer.point_cloud_range = pc_range
    for key in ('train_cfg', 'test_cfg'):
        head_cfg = m.bbox_head[key]
        if 'grid_size' in head_cfg or key == 'train_cfg':
            head_cfg.update(grid_size=grid, point_cloud_range=pc_range)
        if 'pc_range' in head_cfg:
            head_cfg.pc_range = pc_range[:2]
    if 'bbox_coder' in m.bbox_head:
        m.bbox_head.bbox_coder.pc_range = pc_range[:2]
    return cfg, half
