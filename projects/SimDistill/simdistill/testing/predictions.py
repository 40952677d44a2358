"""Comparing two runs' outputs: BEV maps within a relative tolerance, predicted boxes matched
class by class (two runtimes may order, or near the NMS threshold keep, a few boxes apart)."""
import torch

# float32 throughout; the pools and runtimes sum in different orders. Relative to the largest
# value of a map (random weights and images give maps up to |x| ~ 100).
RAW_RTOL = 1e-5


def assert_maps_close(got, expected):
    got, expected = torch.as_tensor(got), torch.as_tensor(expected)
    assert got.shape == expected.shape
    scale = float(expected.abs().max())
    assert float((got - expected).abs().max()) <= RAW_RTOL * scale + 1e-6, scale


def box_values(instances):
    """``(values (N, D), labels (N,))`` of predicted instances: box tensor and score."""
    return (torch.cat([instances.bboxes_3d.tensor, instances.scores_3d[:, None]], 1),
            instances.labels_3d)


def assert_same_boxes(a, b, tolerance, unmatched_share):
    """``a`` and ``b`` (``(values, labels)``) hold as many boxes within ``unmatched_share`` and
    all but that share match within ``tolerance`` (see :func:`match_box_values`)."""
    assert abs(len(a[0]) - len(b[0])) <= unmatched_share * len(a[0]), (len(a[0]), len(b[0]))
    if len(a[0]):
        assert match_box_values(*a, *b, unmatched_share) < tolerance


def match_box_values(values_a, labels_a, values_b, labels_b, unmatched_share=0.0):
    """Largest difference between each box of ``a`` and its closest same-class box of ``b``
    (centre, size, yaw, velocity and score), in both directions; relative to the value above
    magnitude 1 (an unconverged head decodes sizes as exp() of large logits). ``values_*``
    (N, D) box values, ``labels_*`` (N,) class labels.

    ``unmatched_share``: the share of boxes (of both directions) left out as the worst ones
    before the largest difference is taken. Post-NMS sets of an untrained head may differ by a
    few boxes between two runtimes whose maps agree to 1e-5: near-tied candidates swap at the
    per-task top-k cut, and an overlap near the NMS IoU threshold suppresses one box or the
    other (measured: 2 of 498 boxes, scores 0.1029-0.1031, just above the 0.1 threshold)."""
    dists = []
    for vx, lx, vy, ly in ((values_a, labels_a, values_b, labels_b),
                           (values_b, labels_b, values_a, labels_a)):
        for label in lx.unique():
            px, py = vx[lx == label], vy[ly == label]
            if not len(py):  # a class missing on the other side: its boxes are unmatched
                dists.append(torch.full((len(px),), float('inf'), dtype=px.dtype))
                continue
            dist = ((px[:, None] - py[None]).abs() / px[:, None].abs().clamp(min=1)).amax(-1)
            dists.append(dist.amin(1))
    dists = torch.cat(dists).sort().values
    kept = len(dists) - int(unmatched_share * len(dists))
    return float(dists[:kept].max()) if kept else 0.0
