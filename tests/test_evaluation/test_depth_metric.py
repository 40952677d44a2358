"""The depth metric against a hand-worked case: which feature cells LiDAR points fall in, the
nearest point's depth per cell, and the argmax bin's depth within 1 m / 3 m of it; and the
evaluation pass reads the depth distributions the model detects with."""
import copy
import math

import torch

from simdistill.evaluation.depth_metric import (DepthHits, cell_reference_depths, depth_hits,
                                                evaluate_depth, lss_transforms)

# A 9 x 13 image, a 3 x 4 feature map: cell centres at u = 0, 4, 8, 12 and v = 0, 4, 8 pixels.
IMAGE, FEATURE = (9, 13), (3, 4)
DBOUND = (1.0, 52.0, 1.0)  # bin k stands for 1 + k metres


def cameras(lidar_shift=(0.0, 0.0, 0.0)):
    """One view; LiDAR = camera coordinates, focal 1, principal point 0 (u = x / z, v = y / z);
    two samples, the second's points shifted by ``lidar_shift`` (its LiDAR augmentation)."""
    eye = torch.eye(4, dtype=torch.float64)
    aug = eye.clone()
    aug[:3, 3] = torch.tensor(lidar_shift, dtype=torch.float64)
    return dict(cam2img=eye.expand(2, 1, 4, 4), lidar2cam=eye.expand(2, 1, 4, 4),
                img_aug_matrix=eye.expand(2, 1, 4, 4), lidar_aug_matrix=torch.stack([eye, aug]))


def point(u, v, d):
    return [u * d, v * d, d]


RAW = torch.tensor([
    point(4, 4, 10),  # cell (1, 1) at 10 m
    point(4.4, 3.8, 20),  # cell (1, 1) too (nearest centre): farther, so not its reference
    point(8, 0, 5),  # cell (0, 2) at 5 m
    point(12, 8, 60),  # beyond the bins (52 m): no bin can represent it
    [0.0, 0.0, -3.0],  # behind the camera
    point(14, 0, 5),  # right of the image
], dtype=torch.float64)


def one_hot_depth(bins_per_cell):
    """``(1, 1, D, 3, 4)`` depth distribution with the argmax bin of each cell given."""
    depth = torch.zeros(1, 1, 51, *FEATURE)
    for (row, col), k in bins_per_cell.items():
        depth[0, 0, k, row, col] = 1.0
    return depth


def test_reference_depth_is_the_nearest_point_of_each_cell():
    ref = cell_reference_depths(RAW, cameras(), 0, IMAGE, FEATURE, DBOUND[:2])
    expected = torch.full((1, *FEATURE), math.inf, dtype=torch.float64)
    expected[0, 1, 1], expected[0, 0, 2] = 10.0, 5.0
    assert torch.equal(ref, expected)


def test_hits_by_hand_over_two_samples_with_a_lidar_augmentation():
    shift = (1.0, 2.0, 0.0)
    points = [RAW, RAW + torch.tensor(shift, dtype=torch.float64)]
    # sample 0: cell (1, 1) predicts bin 10 = 11 m (1 m off: within both), cell (0, 2) bin 0 =
    # 1 m (4 m off: within neither); sample 1 (same raw points): bin 2 = 3 m everywhere, 7 m off
    # at (1, 1), 2 m off at (0, 2) (within 3 m only); cells without a point do not count.
    depth = torch.cat([one_hot_depth({(1, 1): 10, (0, 2): 0}),
                       one_hot_depth({(r, c): 2 for r in range(3) for c in range(4)})])
    hits = depth_hits(depth, points, cameras(shift), IMAGE, DBOUND)
    assert hits.cells == 4
    assert hits.within == {1.0: 1, 3.0: 2}
    assert hits.shares() == {'depth_within_1m': 0.25, 'depth_within_3m': 0.5, 'depth_cells': 4}


def test_the_lidar_augmentation_is_undone_before_projecting():
    """Points shifted by a LiDAR augmentation, read with that augmentation, give the unshifted
    result; read as if unaugmented, they land in other cells."""
    shifted = RAW + torch.tensor([30.0, 0.0, 0.0], dtype=torch.float64)
    right = cell_reference_depths(shifted, cameras((30.0, 0.0, 0.0)), 1, IMAGE, FEATURE,
                                  DBOUND[:2])
    wrong = cell_reference_depths(shifted, cameras(), 1, IMAGE, FEATURE, DBOUND[:2])
    assert torch.equal(right, cell_reference_depths(RAW, cameras(), 0, IMAGE, FEATURE,
                                                    DBOUND[:2]))
    assert not torch.equal(right, wrong)


def test_the_evaluation_pass_reads_the_depth_each_lss_predicts_with():
    """``evaluate_depth`` runs the image branch only up to the depth nets: its counts equal
    those of the depth distributions captured inside ``model.predict``, branch by branch (the
    camera and the simulated-LiDAR LSS of an untrained student differ, so a swapped or shared
    branch fails)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet3d.registry import MODELS
    from simdistill.models.view_transforms.lss import stack_camera_matrices
    from simdistill.testing import HALF, STUDENT, drop_image_pretrain, random_batch
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(STUDENT)
    torch.manual_seed(0)
    model = MODELS.build(drop_image_pretrain(cfg.model)).eval()
    batches = [random_batch(cfg, HALF, batch_size=1, seed=seed) for seed in (0, 1)]

    transforms = lss_transforms(model)
    assert set(transforms) == {'camera', 'sim_lidar'}
    captured, expected = {}, {role: DepthHits() for role in transforms}
    for role, transform in transforms.items():
        def capture(*args, _role=role, _original=transform.depth_and_context, **kwargs):
            depth, context = _original(*args, **kwargs)
            captured[_role] = depth
            return depth, context
        transform.depth_and_context = capture
    with torch.no_grad():
        for batch in batches:
            data = model.data_preprocessor(copy.deepcopy(batch), training=False)
            points = data['inputs'].pop('points')
            model.predict(data['inputs'], data['data_samples'])
            cameras = stack_camera_matrices([s.metainfo for s in data['data_samples']],
                                            points[0].device)
            for role, transform in transforms.items():
                expected[role] += depth_hits(captured[role], points, cameras,
                                             transform.image_size, transform.dbound)
    for transform in transforms.values():
        del transform.depth_and_context
    assert expected['camera'].cells > 0
    assert expected['camera'].within != expected['sim_lidar'].within

    got = evaluate_depth(model, [copy.deepcopy(b) for b in batches], progress=False)
    want = dict(expected['camera'].shares(),
                **{f'sim_lidar_{k}': v for k, v in expected['sim_lidar'].shares().items()})
    assert got == want
