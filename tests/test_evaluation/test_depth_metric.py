"""The depth metric against a hand-worked case: which feature cells LiDAR points fall in, the
nearest point's depth per cell, and the argmax bin's depth within 1 m / 3 m of it."""
import math

import torch

from simdistill.evaluation.depth_metric import cell_reference_depths, depth_hits

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
