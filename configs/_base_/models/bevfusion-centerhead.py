# BEVFusion with a CenterHead: the structure every teacher size shares -- module types, norms,
# losses, the head's branches, box coder and target / decoding settings. A teacher config adds
# what its size decides: the image backbone, the LiDAR encoder, the channel widths, and its
# setting's geometry (ranges, voxel sizes, grids, image and BEV shapes from _base_/datasets/),
# merged into these dicts key by key.
norm_2d = dict(type='BN', eps=1e-3, momentum=0.01)

model = dict(
    type='BEVFusionDetector',
    data_preprocessor=dict(
        type='Det3DDataPreprocessor',
        bgr_to_rgb=True,
        pad_size_divisor=32,
        voxel=True,
        voxel_type='hard'),
    # BEVFusion's concatenating top-down FPN (upstream GeneralizedLSSFPN, same weights): every
    # layer feeds the stride-8 output the view transform reads.
    img_neck=dict(type='LSSFPNNeck'),
    img_neck_out_index=0,  # stride 8
    view_transform=dict(type='LSSViewTransform'),
    fusion_layer=dict(type='BEVConvFuser'),
    pts_backbone=dict(type='SECOND', norm_cfg=norm_2d, conv_cfg=dict(type='Conv2d', bias=False)),
    pts_neck=dict(
        type='SECONDFPN',
        upsample_strides=[1, 2],
        norm_cfg=norm_2d,
        upsample_cfg=dict(type='deconv', bias=False),
        use_conv_for_no_stride=True),
    bbox_head=dict(
        type='PriorInitCenterHead',
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        bbox_coder=dict(
            type='CenterPointBBoxCoder', max_num=500, score_threshold=0.1, code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True,
        train_cfg=dict(
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=500,
            min_radius=2,
            code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2]),
        test_cfg=dict(
            max_per_img=500,
            max_pool_nms=False,
            min_radius=[4, 12, 10, 1, 0.85, 0.175],
            score_threshold=0.1,
            pre_max_size=1000,
            post_max_size=83,
            nms_type='rotate',
            nms_thr=0.2)))
