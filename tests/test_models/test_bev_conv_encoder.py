"""The CPU teacher's LiDAR BEV is a learned map with spatial context, not a pillar scatter."""
import torch

import simdistill  # noqa: F401
from simdistill.models import BEVConvEncoder


def test_one_pillar_reaches_exactly_its_receptive_field():
    """Three 3x3 layers (BN at its initial statistics, no bias): zero stays zero, and a single
    non-zero cell spreads to the 7 x 7 cells around it and no farther; rows stay rows."""
    torch.manual_seed(0)
    encoder = BEVConvEncoder(4, 8, num_convs=3).eval()
    bev = torch.zeros(1, 4, 12, 16)
    assert torch.equal(encoder(bev), torch.zeros(1, 8, 12, 16))
    bev[0, :, 5, 9] = torch.randn(4).abs() + 1
    with torch.no_grad():
        reached = encoder(bev).abs().sum(1)[0] > 0
    rows, cols = torch.nonzero(reached, as_tuple=True)
    assert rows.min() >= 2 and rows.max() <= 8 and cols.min() >= 6 and cols.max() <= 12
    assert reached.sum() > 20  # spread well beyond the pillar's own cell


def test_the_cpu_teacher_runs_its_lidar_bev_through_the_encoder():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet3d.registry import MODELS
    from simdistill.testing import ROOT, drop_image_pretrain, random_batch
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(f'{ROOT}/configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-'
                          '12e_nus-mini-3d.py')
    torch.manual_seed(0)
    model = MODELS.build(drop_image_pretrain(cfg.model)).eval()
    assert isinstance(model.pts_bev_encoder, BEVConvEncoder)
    batch = model.data_preprocessor(random_batch(cfg, 51.2, seed=3), False)
    voxels = batch['inputs']['voxels']
    with torch.no_grad():
        scatter = model.pts_middle_encoder(  # mmdet3d's PillarFeatureNet writes to its input
            model.pts_voxel_encoder(voxels['voxels'].clone(), voxels['num_points'],
                                    voxels['coors']), voxels['coors'], 2)
        assert torch.equal(model.extract_lidar_bev(batch['inputs']),
                           model.pts_bev_encoder(scatter))
