"""The GCM's learned position embedding: its sampling offsets depend on where a cell lies."""
import pytest
import torch

import simdistill  # noqa: F401
from simdistill.models import DeformableGeometryCompensation


def offsets_on_a_constant_map(gcm, shape=(6, 10)):
    """The sampling offsets of every cell ``(ny * nx, heads * points * 2)`` and the queries they
    were computed from, for a map whose cells all hold the same feature."""
    seen = {}
    handle = gcm.attention.sampling_offsets.register_forward_hook(
        lambda module, inputs, output: seen.update(query=inputs[0][0], offsets=output[0]))
    bev = torch.full((1, gcm.embed_dims, *shape), 0.3)
    with torch.no_grad():
        gcm(bev)
    handle.remove()
    return seen['query'], seen['offsets'], bev


def build(**kwargs):
    torch.manual_seed(0)
    gcm = DeformableGeometryCompensation(embed_dims=16, num_heads=8, num_points=4, **kwargs)
    gcm.init_weights()
    with torch.no_grad():  # trained-looking offsets (mmcv starts them at zero weight)
        gcm.attention.sampling_offsets.weight.normal_()
    return gcm


def test_offsets_vary_with_the_cell_position():
    gcm = build(position_embedding=True, bev_shape=(6, 10))
    query, offsets, bev = offsets_on_a_constant_map(gcm)
    # the query is the cell's feature plus the embedding of its column (first C/2 channels) and
    # row (last C/2), mmdet's LearnedPositionalEncoding layout
    rows, cols = torch.meshgrid(torch.arange(6), torch.arange(10), indexing='ij')
    expected = 0.3 + torch.cat((gcm.position.col_embed.weight[cols.flatten()],
                                gcm.position.row_embed.weight[rows.flatten()]), dim=1)
    assert torch.allclose(query, expected, atol=1e-6)
    # cells with equal features but different positions sample at different offsets
    assert (offsets[0] - offsets[37]).abs().max() > 1e-3
    assert (offsets[0] - offsets[1]).abs().max() > 1e-3  # next column
    assert (offsets[0] - offsets[10]).abs().max() > 1e-3  # next row


def test_without_a_position_every_cell_samples_the_same_offsets():
    """What the embedding changes (and what makes the test above able to fail)."""
    gcm = build()
    query, offsets, _ = offsets_on_a_constant_map(gcm)
    assert gcm.position is None
    assert torch.allclose(offsets, offsets[:1].expand_as(offsets), atol=1e-6)


def test_the_residual_carries_the_feature_not_the_position():
    gcm = build(position_embedding=True, bev_shape=(6, 10))
    with torch.no_grad():
        for p in gcm.attention.output_proj.parameters():
            p.zero_()
    bev = torch.randn(2, 16, 6, 10)
    assert torch.equal(gcm(bev), bev)


def test_position_embedding_needs_its_grid():
    gcm = build(position_embedding=True, bev_shape=(6, 10))
    with pytest.raises(ValueError, match=r'\(6, 10\).*got \(10, 6\)'):
        gcm(torch.zeros(1, 16, 10, 6))
    with pytest.raises(ValueError, match='bev_shape'):
        DeformableGeometryCompensation(embed_dims=16, num_heads=8, position_embedding=True)


def test_the_student_sizes_the_position_tables_from_its_view_transform():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet3d.registry import MODELS
    from simdistill.testing import ROOT, drop_image_pretrain, shrink_paper_config
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(f'{ROOT}/configs/simdistill/simdistill-student_swint_8xb4-cyclic-20e_'
                          'nus-3d.py')
    assert MODELS.build(drop_image_pretrain(cfg.model)).geometry_compensation.bev_shape == (
        180, 180)
    cfg, _ = shrink_paper_config(cfg)  # a 48 x 48 camera BEV, 24 x 24 after its downsample
    assert MODELS.build(cfg.model).geometry_compensation.bev_shape == (24, 24)
