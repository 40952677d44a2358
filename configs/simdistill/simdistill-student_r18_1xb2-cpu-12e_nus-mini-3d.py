# The SimDistill student at CPU size, trained on its own (no teacher): the ablation that
# separates the architecture from the distillation, and the config that exported student
# weights load into (tools/test.py, load_from). Images only, train and test: it inherits the
# camera-only baseline's pipelines, backbone, neck, camera LSS, decoder and head.
_base_ = ['../bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py']

bev_channels = {{_base_.model.view_transform.out_channels}}  # the camera LSS's, as in the teacher
model = dict(
    type='SimDistillStudent',
    # Its own transform with the camera branch's settings (the paper); the release shares one
    # (share_view_transform=True, sim_lidar_view_transform=None).
    sim_lidar_view_transform={{_base_.model.view_transform}},
    geometry_compensation=dict(
        type='DeformableGeometryCompensation', embed_dims=bev_channels, num_heads=8,
        num_points=20, position_embedding=True),  # learned position of each cell
    # [simulated LiDAR, camera] in the teacher's [LiDAR, camera] roles, to the teacher's width.
    fusion_layer=dict(_delete_=True, type='BEVConvFuser', in_channels=[bev_channels, bev_channels],
                      out_channels=64),
    pts_backbone=dict(in_channels=64))
