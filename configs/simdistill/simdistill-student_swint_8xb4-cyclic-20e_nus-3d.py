# The SimDistill student at the paper's size (Swin-T, 256 x 704, 180 x 180 BEV), trained on its
# own: the architecture-only ablation, and the config exported student weights load into.
_base_ = ['../bevfusion/bevfusion_cam_swint_8xb4-cyclic-20e_nus-3d.py']

bev_channels = {{_base_.model.view_transform.out_channels}}  # the camera LSS's, as in the teacher
model = dict(
    type='SimDistillStudent',
    sim_lidar_view_transform={{_base_.model.view_transform}},
    geometry_compensation=dict(
        type='DeformableGeometryCompensation', embed_dims=bev_channels, num_heads=8,
        num_points=20, position_embedding=True),  # learned position of each cell
    fusion_layer=dict(_delete_=True, type='BEVConvFuser', in_channels=[bev_channels, bev_channels],
                      out_channels=256),
    pts_backbone=dict(in_channels=256))
