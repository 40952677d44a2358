"""Tests of the BEV pool op (``simdistill.ops.bev_pool``).

Every implementation is compared against a float64 reference written here independently: a
dense one-hot (cells x points) matrix times the materialised frustum, with the cell of each
point taken from how the test generated the geometry (not from the code under test).
"""
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simdistill.ops.bev_pool import (IMPLEMENTATIONS, BEVPoolPlan, BEVPoolPlanCache, bev_pool,
                                     build_plan, extension, extension_status, get_backend,
                                     lss_bev_pool)
from simdistill.ops.bev_pool.api import interval_pool
from simdistill.ops.bev_pool.reference import TorchBackend
from simdistill.ops import lazy_extension
from simdistill.ops.bev_pool.backends import ExtensionBackend
from simdistill.structures import BEVGrid
from simdistill.testing import ROOT

CUDA = torch.cuda.is_available()
IMPLS = sorted(IMPLEMENTATIONS)


@pytest.fixture(scope='module')
def compiled():
    """Builds (or loads) the compiled kernels once; a failed build fails these tests."""
    ops = extension.load_extension(cuda=extension.cuda_buildable())
    assert get_backend(torch.device('cpu')).name == 'extension'
    return ops


@dataclass
class Problem:
    """A random frustum with known cells, and the grid it is pooled into."""

    depth: torch.Tensor  # (B, N, D, H, W)
    context: torch.Tensor  # (B, N, C, H, W)
    geom: torch.Tensor  # (B, N, D, H, W, 3)
    cell: np.ndarray  # (B, N, D, H, W) cell (z * Y + y) * X + x inside the sample, -1: dropped
    grid: BEVGrid


def make_problem(seed: int,
                 shape: Tuple[int, int, int, int, int] = (2, 2, 3, 2, 3),
                 channels: int = 5,
                 cells: Tuple[int, int, int] = (2, 3, 4),
                 hot: int = 2,
                 outside: float = 0.2,
                 dtype: torch.dtype = torch.float64) -> Problem:
    """Random depth/context and geometry whose points sit well inside their cells.

    ``hot`` cells receive half the points (many points per cell); ``outside`` is the fraction
    of points pushed one cell outside the grid on a random axis.
    """
    rng = np.random.default_rng(seed)
    nz, ny, nx = cells
    counts = np.array([nx, ny, nz])
    size = rng.choice([0.25, 0.5, 2.0], size=3)
    lower = rng.choice([-3.0, -1.5, 0.0, 0.75], size=3) * size * counts
    idx = rng.integers(0, counts, size=shape + (3, ))
    hot_cells = rng.integers(0, counts, size=(hot, 3))
    use_hot = rng.random(shape) < 0.5
    idx[use_hot] = hot_cells[rng.integers(0, hot, size=int(use_hot.sum()))]
    out = rng.random(shape) < outside
    axis = rng.integers(0, 3, size=shape)
    low_side = rng.random(shape) < 0.5
    for a in range(3):
        sel = out & (axis == a)
        idx[..., a][sel & low_side] = -1
        idx[..., a][sel & ~low_side] = counts[a]
    geom = lower + (idx + rng.uniform(0.05, 0.95, size=idx.shape)) * size
    inside = ((idx >= 0) & (idx < counts)).all(-1)
    cell = np.where(inside, (idx[..., 2] * ny + idx[..., 1]) * nx + idx[..., 0], -1)
    grid = BEVGrid(*[(float(lower[a]), float(lower[a] + counts[a] * size[a]), float(size[a]))
                     for a in range(3)])
    b, n, _, h, w = shape
    depth = torch.from_numpy(rng.random(shape)).to(dtype)
    context = torch.from_numpy(rng.standard_normal((b, n, channels, h, w))).to(dtype)
    return Problem(depth, context, torch.from_numpy(geom), cell, grid)


def reference_pool(depth: torch.Tensor, context: torch.Tensor, cell: np.ndarray,
                   bev_shape: Tuple[int, int, int]) -> torch.Tensor:
    """Dense float64 reference ``(B, C, Z, Y, X)``; differentiable by autograd."""
    depth, context = depth.double(), context.double()
    batch, channels = depth.shape[0], context.shape[2]
    cells = int(np.prod(bev_shape))
    frustum = depth.unsqueeze(-1) * context.permute(0, 1, 3, 4, 2).unsqueeze(2)
    frustum = frustum.reshape(batch, -1, channels)
    onehot = torch.zeros(batch, cells, frustum.shape[1], dtype=torch.float64)
    flat = cell.reshape(batch, -1)
    for b in range(batch):
        points = np.nonzero(flat[b] >= 0)[0]
        onehot[b, flat[b][points], points] = 1.0
    out = (onehot.to(depth.device) @ frustum).transpose(1, 2)
    return out.reshape((batch, channels) + tuple(bev_shape))


def reference_grads(problem: Problem, grad_out: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    depth = problem.depth.double().requires_grad_()
    context = problem.context.double().requires_grad_()
    out = reference_pool(depth, context, problem.cell, problem.grid.shape)
    grad_depth, grad_context = torch.autograd.grad(out, (depth, context), grad_out.double())
    return out.detach(), grad_depth, grad_context


def run_impl(problem: Problem, impl: str, device: str = 'cpu', dtype: torch.dtype = None,
             seed: int = 0) -> Dict[str, torch.Tensor]:
    """Forward and both gradients of ``impl`` (on ``device``), and the reference's."""
    dtype = dtype or problem.depth.dtype
    plan = build_plan(problem.geom.to(device), problem.grid)
    depth = problem.depth.to(device, dtype).requires_grad_()
    context = problem.context.to(device, dtype).requires_grad_()
    out = bev_pool(depth, context, plan, impl=impl)
    gen = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grad_depth, grad_context = torch.autograd.grad(out, (depth, context),
                                                   grad_out.to(device, dtype))
    ref, ref_depth, ref_context = reference_grads(problem, grad_out)
    return dict(out=out.detach().cpu(), grad_depth=grad_depth.cpu(),
                grad_context=grad_context.cpu(), ref=ref, ref_grad_depth=ref_depth,
                ref_grad_context=ref_context)


def assert_matches_reference(r: Dict[str, torch.Tensor], tol: float) -> None:
    for name, ref in (('out', 'ref'), ('grad_depth', 'ref_grad_depth'),
                      ('grad_context', 'ref_grad_context')):
        torch.testing.assert_close(r[name].double(), r[ref], rtol=tol, atol=tol, msg=name)


PROBLEMS = st.fixed_dictionaries(
    dict(
        seed=st.integers(0, 2**32 - 1),
        shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5),
                        st.integers(1, 4), st.integers(1, 5)),
        channels=st.sampled_from([1, 2, 3, 5, 7, 13, 33]),
        cells=st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 7)),
        hot=st.integers(1, 3),
        outside=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    ))


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@settings(max_examples=20, deadline=None)
@given(params=PROBLEMS)
def test_matches_reference(compiled, impl, dtype, params):
    r = run_impl(make_problem(dtype=dtype, **params), impl)
    assert r['out'].dtype == dtype
    assert_matches_reference(r, 1e-10 if dtype == torch.float64 else 1e-4)


@pytest.mark.parametrize('impl', IMPLS)
def test_single_point_and_many_points_per_cell(compiled, impl):
    single = make_problem(1, shape=(1, 1, 1, 1, 1), channels=3, outside=0.0)
    r = run_impl(single, impl)
    assert_matches_reference(r, 1e-12)
    assert int((r['out'] != 0).any(dim=1).sum()) == 1
    crowded = make_problem(2, shape=(2, 3, 9, 4, 5), channels=6, cells=(1, 2, 2), hot=1)
    assert_matches_reference(run_impl(crowded, impl), 1e-10)


@pytest.mark.parametrize('impl', IMPLS)
def test_gradcheck(compiled, impl):
    problem = make_problem(3, shape=(2, 2, 3, 2, 2), channels=3, cells=(1, 2, 3))
    plan = build_plan(problem.geom, problem.grid)
    depth = problem.depth.clone().requires_grad_()
    context = problem.context.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda d, c: bev_pool(d, c, plan, impl=impl),
                                    (depth, context))


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('wrt', ['depth', 'context'])
def test_gradient_of_one_input(compiled, impl, wrt):
    problem = make_problem(16, shape=(2, 2, 5, 3, 4), channels=6, cells=(1, 4, 5))
    plan = build_plan(problem.geom, problem.grid)
    depth = problem.depth.clone().requires_grad_(wrt == 'depth')
    context = problem.context.clone().requires_grad_(wrt == 'context')
    grad_out = torch.randn(plan.output_shape(6), dtype=torch.float64)
    (grad, ) = torch.autograd.grad(bev_pool(depth, context, plan, impl=impl),
                                   depth if wrt == 'depth' else context, grad_out)
    expected = reference_grads(problem, grad_out)[1 if wrt == 'depth' else 2]
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-10)


def test_backward_depth_also_gives_grad_cells(compiled, device='cpu'):
    problem = make_problem(17, shape=(2, 2, 4, 3, 3), channels=5, cells=(2, 5, 8))
    plan = build_plan(problem.geom.to(device), problem.grid)
    feat = problem.context.permute(0, 1, 3, 4, 2).reshape(-1, 5).contiguous().to(device)
    grad_out = torch.randn(2, 5, plan.cells_per_sample, dtype=torch.float64, device=device)
    expected = grad_out.transpose(1, 2).reshape(-1, 5)[plan.interval_cells.long()]
    for backend in (ExtensionBackend(compiled), TorchBackend()):
        grad_depth = torch.zeros(problem.depth.numel(), dtype=torch.float64, device=device)
        grad_cells = torch.full((plan.num_intervals, 5), float('nan'), dtype=torch.float64,
                                device=device)
        backend.fused_backward_depth(grad_out, feat, plan, grad_depth, grad_cells)
        assert torch.equal(grad_cells, expected)


def test_interval_pool_on_a_frustum(compiled):
    problem = make_problem(4, shape=(2, 2, 4, 3, 2), channels=4)
    plan = build_plan(problem.geom, problem.grid)
    frustum = (problem.depth.unsqueeze(-1) *
               problem.context.permute(0, 1, 3, 4, 2).unsqueeze(2)).requires_grad_()
    ref = reference_pool(problem.depth, problem.context, problem.cell, problem.grid.shape)
    torch.testing.assert_close(interval_pool(frustum, plan), ref, rtol=1e-12, atol=1e-12)
    x = frustum.detach().reshape(-1, 4)[plan.ranks_depth.long()].requires_grad_()
    assert torch.autograd.gradcheck(lambda v: interval_pool(v, plan), (x, ))
    # grad of the whole frustum: grad_out of each kept point's cell, 0 for dropped points
    grad_out = torch.randn(plan.output_shape(4), dtype=torch.float64)
    (grad, ) = torch.autograd.grad(interval_pool(frustum, plan), frustum, grad_out)
    cell = torch.from_numpy(problem.cell).reshape(2, -1)
    expected = torch.zeros(2, cell.shape[1], 4, dtype=torch.float64)
    for b in range(2):
        kept = cell[b] >= 0
        expected[b, kept] = grad_out[b].reshape(4, -1)[:, cell[b][kept]].T
    torch.testing.assert_close(grad.reshape(2, -1, 4), expected)


def backends(compiled):
    return [ExtensionBackend(compiled), TorchBackend(chunk_elements=7)]


@pytest.mark.parametrize('which', ['extension', 'torch'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_every_output_cell_written(compiled, which, dtype, device='cpu'):
    problem = make_problem(5, shape=(2, 2, 3, 3, 4), channels=7, cells=(2, 5, 7), hot=1,
                           dtype=dtype)
    backend = ExtensionBackend(compiled) if which == 'extension' else TorchBackend(7)
    plan = build_plan(problem.geom.to(device), problem.grid)
    depth = problem.depth.to(device).reshape(-1)
    feat = problem.context.to(device).permute(0, 1, 3, 4, 2).reshape(-1, 7).contiguous()
    ref = reference_pool(problem.depth, problem.context, problem.cell, problem.grid.shape)
    empty = torch.from_numpy(
        np.stack([np.isin(np.arange(plan.cells_per_sample), problem.cell[b]) for b in range(2)
                  ])).logical_not()
    assert empty.any() and not empty.all()
    out = torch.full((2, 7, plan.cells_per_sample), float('nan'), dtype=dtype, device=device)
    backend.fused_forward(depth, feat, plan, out)
    assert not out.isnan().any()
    assert (out.cpu().transpose(1, 2)[empty] == 0).all()
    torch.testing.assert_close(out.cpu().double(), ref.reshape(2, 7, -1), rtol=1e-5, atol=1e-5)
    x = (feat[plan.ranks_feat.long()] * depth[plan.ranks_depth.long()].unsqueeze(1))
    out.fill_(float('nan'))
    backend.interval_forward(x, plan, out)
    assert not out.isnan().any()
    assert (out.cpu().transpose(1, 2)[empty] == 0).all()
    torch.testing.assert_close(out.cpu().double(), ref.reshape(2, 7, -1), rtol=1e-5, atol=1e-5)
    grad_x = torch.full_like(x, float('nan'))
    grad_out = torch.randn_like(out)
    backend.interval_backward(grad_out, plan, grad_x)
    expected = grad_out.transpose(1, 2).reshape(-1, 7)[plan.ranks_bev.long()]
    assert torch.equal(grad_x, expected)


def test_build_plan_cell_rule():
    grid = BEVGrid((0.0, 2.0, 1.0), (0.0, 3.0, 1.0), (-1.0, 1.0, 2.0))
    pts = torch.tensor([
        [0.0, 0.0, -1.0],  # exactly on the lower bounds: cell (0, 0, 0), kept
        [1.999, 2.5, 0.999],  # last cell, kept
        [2.0, 0.5, 0.0],  # exactly on the upper x bound: dropped
        [-1e-4, 0.5, 0.0],  # just below the lower x bound: dropped (floor, not truncation)
        [0.5, -0.5, 0.0],  # y in (-1, 0): dropped, truncation towards 0 would keep it
        [float('nan'), 0.5, 0.0],  # non-finite coordinates: dropped
        [0.5, float('inf'), 0.0],
        [1e30, 0.5, 0.0],  # huge: dropped, no integer wrap-around
        [1.5, 1.5, 0.0],  # cell x=1, y=1
    ])
    geom = pts.reshape(1, 1, 9, 1, 1, 3)
    plan = build_plan(geom, grid)
    assert plan.bev_shape == (1, 3, 2)
    assert plan.ranks_depth.tolist() == [0, 8, 1]
    assert plan.ranks_bev.tolist() == [0, 1 * 2 + 1, 2 * 2 + 1]
    assert plan.ranks_feat.tolist() == [0, 0, 0]
    assert plan.interval_starts.tolist() == [0, 1, 2]
    assert plan.interval_lengths.tolist() == [1, 1, 1]
    # a plan rebuilt from its tensors passes the value checks
    BEVPoolPlan(plan.ranks_depth, plan.ranks_feat, plan.ranks_bev, plan.interval_starts,
                plan.interval_lengths, plan.interval_cells, plan.depth_shape, plan.bev_shape)


def test_build_plan_truncating_cell_rule():
    # BEVFusion's .long() rounds toward zero: up to one cell below a lower bound lands in
    # cell 0; the upper bounds, non-finite and huge coordinates behave as with floor
    grid = BEVGrid((0.0, 2.0, 1.0), (0.0, 3.0, 1.0), (-1.0, 1.0, 2.0), index_rounding='trunc')
    pts = torch.tensor([
        [-1e-4, 0.5, 0.0],  # just below the lower x bound: cell (0, 0, 0)
        [0.5, -0.5, 0.0],  # y in (-1, 0): cell (0, 0, 0)
        [0.5, 1.5, -2.5],  # z (-2.5 - -1) / 2 = -0.75: cell (0, 1, 0)
        [-1.0, 0.5, 0.0],  # a whole cell below: dropped
        [2.0, 0.5, 0.0],  # exactly on the upper x bound: dropped
        [float('nan'), 0.5, 0.0],
        [-1e30, 0.5, 0.0],
        [1.5, 2.5, 0.0],  # cell x=1, y=2
    ])
    plan = build_plan(pts.reshape(1, 1, 8, 1, 1, 3), grid)
    assert plan.ranks_depth.tolist() == [0, 1, 2, 7]
    assert plan.ranks_bev.tolist() == [0, 0, 1 * 2 + 0, 2 * 2 + 1]
    with pytest.raises(ValueError, match='index_rounding'):
        BEVGrid(index_rounding='round')


def test_plan_layout_and_feat_groups():
    problem = make_problem(6, shape=(2, 3, 4, 2, 3), cells=(2, 3, 5))
    plan = build_plan(problem.geom, problem.grid)
    b, n, d, h, w = problem.cell.shape
    kept = np.flatnonzero(problem.cell.reshape(-1) >= 0)
    assert sorted(plan.ranks_depth.tolist()) == kept.tolist()
    sample = kept // (n * d * h * w)
    cells = dict(zip(kept.tolist(), (sample * plan.cells_per_sample +
                                     problem.cell.reshape(-1)[kept]).tolist()))
    assert [cells[p] for p in plan.ranks_depth.tolist()] == plan.ranks_bev.tolist()
    assert (np.diff(plan.ranks_bev.numpy()) >= 0).all()
    bn, pix = np.divmod(plan.ranks_depth.numpy(), d * h * w)
    assert plan.ranks_feat.tolist() == (bn * h * w + pix % (h * w)).tolist()
    groups = plan.feat_groups()
    assert groups is plan.feat_groups()  # built once
    assert (np.diff(groups.feats.numpy()) > 0).all()
    position = {p: i for i, p in enumerate(plan.ranks_depth.tolist())}  # point -> plan index
    for j in range(groups.feats.numel()):
        s, length = int(groups.starts[j]), int(groups.lengths[j])
        members = [position[p] for p in groups.ranks_depth[s:s + length].tolist()]
        assert {int(plan.ranks_feat[i]) for i in members} == {int(groups.feats[j])}
        assert len(members) == length
        cells = plan.interval_cells[groups.intervals[s:s + length].long()]
        assert cells.tolist() == [int(plan.ranks_bev[i]) for i in members]
    assert int(groups.lengths.sum()) == plan.num_points


def test_tile_offsets_and_any_cpu_tile_size(compiled):
    problem = make_problem(15, shape=(3, 2, 4, 3, 2), channels=6, cells=(2, 3, 5))
    plan = build_plan(problem.geom, problem.grid)
    cells = plan.interval_cells.tolist()
    depth = problem.depth.reshape(-1)
    feat = problem.context.permute(0, 1, 3, 4, 2).reshape(-1, 6).contiguous()
    ref = reference_pool(problem.depth, problem.context, problem.cell, problem.grid.shape)
    for tile in (1, 4, 7, 30, 1000):
        offsets = plan.tile_offsets(tile)
        assert offsets is plan.tile_offsets(tile)
        starts = [b * 30 + k for b in range(3) for k in range(0, 30, tile)] + [90]
        assert offsets.tolist() == [sum(c < s for c in cells) for s in starts]
        out = torch.full((3, 6, 30), float('nan'), dtype=torch.float64)
        compiled.fused_forward(depth, feat, plan.ranks_depth, plan.ranks_feat,
                               plan.interval_starts, plan.interval_lengths, plan.interval_cells,
                               offsets, tile, out)
        torch.testing.assert_close(out, ref.reshape(3, 6, 30), rtol=1e-12, atol=1e-12)


def camera_geometry(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Toy frustum ``(1, 2, 4, 2, 3, 3)`` moved by a per-camera rigid transform."""
    depth = torch.linspace(0.3, 1.7, 4, dtype=torch.float64)
    u = torch.linspace(-0.6, 0.6, 3, dtype=torch.float64)
    v = torch.linspace(-0.4, 0.4, 2, dtype=torch.float64)
    rays = torch.stack(torch.broadcast_tensors(u[None, :], v[:, None],
                                               torch.ones(1, 1, dtype=torch.float64)), -1)
    cam = depth[:, None, None, None] * rays  # (D, H, W, 3)
    ego = torch.einsum('nij,dhwj->ndhwi', rotation, cam) + translation[:, None, None, None]
    return ego.unsqueeze(0)


def cells_of(geom: torch.Tensor, grid: BEVGrid) -> np.ndarray:
    """Independent cell rule for the cache test (float64 numpy)."""
    g = geom.numpy()
    counts = np.array(grid.shape[::-1])
    idx = np.floor((g - np.array(grid.lower)) / np.array(grid.cell_size)).astype(np.int64)
    inside = ((idx >= 0) & (idx < counts)).all(-1)
    nz, ny, nx = grid.shape
    return np.where(inside, (idx[..., 2] * ny + idx[..., 1]) * nx + idx[..., 0], -1)


def test_plan_cache_hits_and_invalidates(compiled):
    grid = BEVGrid((-2.0, 2.0, 0.25), (-2.0, 2.0, 0.25), (-2.0, 2.0, 4.0))
    rotation = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    rotation[1] = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    translation = torch.tensor([[0.1, 0.05, 0.0], [-0.1, 0.0, 0.0]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    depth = torch.rand(1, 2, 4, 2, 3, generator=gen, dtype=torch.float64)
    context = torch.randn(1, 2, 5, 2, 3, generator=gen, dtype=torch.float64)
    cache = BEVPoolPlanCache()
    builds = []

    def geom_fn(rot, trans):
        def fn():
            builds.append(1)
            return camera_geometry(rot, trans)
        return fn

    first = lss_bev_pool(depth, context, geom_fn(rotation, translation), grid,
                         plan_cache=cache, cache_key=(rotation, translation))
    plan = cache._entries[-1][1]
    assert (cache.hits, cache.misses, len(builds)) == (0, 1, 1)
    rotation_copy = rotation.clone()
    again = lss_bev_pool(depth, context, geom_fn(rotation_copy, translation), grid,
                         plan_cache=cache, cache_key=(rotation_copy, translation))
    assert (cache.hits, cache.misses, len(builds)) == (1, 1, 1)
    assert cache.get((rotation, translation, grid, tuple(depth.shape), 'cpu'),
                     lambda: pytest.fail('rebuilt')) is plan
    assert torch.equal(first, again)
    ref = reference_pool(depth, context, cells_of(camera_geometry(rotation, translation), grid),
                         grid.shape)
    torch.testing.assert_close(first, ref)

    rotation[0] = torch.tensor([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])  # in place: still a miss
    moved = lss_bev_pool(depth, context, geom_fn(rotation, translation), grid,
                         plan_cache=cache, cache_key=(rotation, translation))
    assert (cache.hits, cache.misses, len(builds)) == (2, 2, 2)
    assert cache._entries[-1][1] is not plan
    ref = reference_pool(depth, context, cells_of(camera_geometry(rotation, translation), grid),
                         grid.shape)
    torch.testing.assert_close(moved, ref)
    assert not torch.allclose(moved, first)
    # another dtype of the same values or another grid is another geometry
    lss_bev_pool(depth, context, geom_fn(rotation, translation), grid, plan_cache=cache,
                 cache_key=(rotation.float(), translation))
    assert cache.misses == 3 and len(cache) == 1


@pytest.mark.parametrize('impl', IMPLS)
def test_cpu_threads_agree(compiled, impl):
    problem = make_problem(7, shape=(2, 3, 6, 4, 5), channels=9, cells=(2, 9, 11), hot=3,
                           dtype=torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run_impl(problem, impl)
        torch.set_num_threads(max(2, threads))
        many = run_impl(problem, impl)
    finally:
        torch.set_num_threads(threads)
    for key in ('out', 'grad_depth', 'grad_context'):
        torch.testing.assert_close(one[key], many[key], rtol=1e-6, atol=1e-6)
    assert_matches_reference(many, 1e-4)


def _bad_calls():
    p = make_problem(8, shape=(1, 2, 3, 2, 2), channels=4)
    plan = build_plan(p.geom, p.grid)
    d, c = p.depth, p.context
    x = torch.zeros(plan.num_points, 4, dtype=torch.float64)
    other = build_plan(make_problem(9, shape=(1, 2, 3, 2, 3)).geom, p.grid)
    return [
        ('impl', lambda: bev_pool(d, c, plan, impl='cuda_magic'), ValueError,
         r"unknown BEV pool impl 'cuda_magic'.*fused"),
        ('int depth', lambda: bev_pool(d.long(), c, plan), TypeError, r'depth.*floating'),
        ('dtype mismatch', lambda: bev_pool(d.float(), c, plan), TypeError,
         r'context dtype torch.float64 differs from depth dtype torch.float32'),
        ('half on cpu', lambda: bev_pool(d.half(), c.half(), plan), TypeError,
         r'float16 is not supported by impl .fused. on cpu'),
        ('not a tensor', lambda: bev_pool(d.numpy(), c, plan), TypeError, r'depth must be'),
        ('depth dims', lambda: bev_pool(d[0], c, plan), ValueError,
         r'depth must have shape \(B, N, D, H, W\), got \(2, 3, 2, 2\)'),
        ('context shape', lambda: bev_pool(d, c[..., :1], plan), ValueError,
         r'context must have shape \(B, N, C, H, W\) = \(1, 2, C, 2, 2\).*got \(1, 2, 4, 2, 1\)'),
        ('plan shape', lambda: bev_pool(d, c, other), ValueError,
         r'plan was built for depth of shape \(1, 2, 3, 2, 3\), got depth \(1, 2, 3, 2, 2\)'),
        ('plan type', lambda: bev_pool(d, c, 'plan'), TypeError, r'plan must be a BEVPoolPlan'),
        ('device', lambda: bev_pool(d, c.to('meta'), plan), ValueError,
         r'context is on meta, depth on cpu'),
        ('x rows', lambda: interval_pool(x[1:], plan), ValueError,
         rf'x has {plan.num_points - 1} rows, the plan has {plan.num_points} points'),
        ('x frustum', lambda: interval_pool(torch.zeros(1, 2, 3, 2, 3, 4), plan), ValueError,
         r'does not match the plan'),
        ('geom shape', lambda: lss_bev_pool(d, c, p.geom[..., :2], p.grid), ValueError,
         r'geom must have shape \(B, N, D, H, W, 3\)'),
        ('geom vs depth', lambda: lss_bev_pool(d, c, p.geom[:, :1], p.grid), ValueError,
         r'geom \(1, 1, 3, 2, 2, 3\) does not match depth \(1, 2, 3, 2, 2\)'),
        ('grid type', lambda: lss_bev_pool(d, c, p.geom, (-1, 1, 1)), TypeError,
         r'grid must be a BEVGrid'),
        ('cache key', lambda: lss_bev_pool(d, c, p.geom, p.grid, plan_cache=BEVPoolPlanCache()),
         ValueError, r'cache_key is required'),
        ('grid size', lambda: BEVGrid(xbound=(-1, 1, 0)), ValueError,
         r'xbound needs size > 0'),
        ('grid cells', lambda: BEVGrid(ybound=(-1, 1, 0.3)), ValueError,
         r'ybound.*not a whole number of cells'),
        ('plan dtype', lambda: BEVPoolPlan(plan.ranks_depth.long(), plan.ranks_feat,
                                           plan.ranks_bev, plan.interval_starts,
                                           plan.interval_lengths, plan.interval_cells,
                                           plan.depth_shape, plan.bev_shape), TypeError,
         r'plan.ranks_depth must be a 1-D int32 tensor, got torch.int64'),
        ('plan range', lambda: BEVPoolPlan(plan.ranks_depth + 1000, plan.ranks_feat,
                                           plan.ranks_bev, plan.interval_starts,
                                           plan.interval_lengths, plan.interval_cells,
                                           plan.depth_shape, plan.bev_shape), ValueError,
         r'plan.ranks_depth has values outside \[0, 24\)'),
        ('plan intervals', lambda: BEVPoolPlan(plan.ranks_depth, plan.ranks_feat,
                                               plan.ranks_bev, plan.interval_starts,
                                               plan.interval_lengths + 1, plan.interval_cells,
                                               plan.depth_shape, plan.bev_shape), ValueError,
         r'plan intervals must be consecutive'),
    ]


@pytest.mark.parametrize('case', range(len(_bad_calls())))
def test_bad_input_raises(compiled, case):
    name, call, error, message = _bad_calls()[case]
    with pytest.raises(error, match=message):
        call()


def test_kernel_checks_arguments(compiled):
    p = make_problem(10, dtype=torch.float32)
    plan = build_plan(p.geom, p.grid)
    depth = p.depth.reshape(-1)
    feat = p.context.permute(0, 1, 3, 4, 2).reshape(-1, 5).contiguous()
    out = torch.empty(2, 5, plan.cells_per_sample)
    args = [depth, feat, plan.ranks_depth, plan.ranks_feat, plan.interval_starts,
            plan.interval_lengths, plan.interval_cells, plan.tile_offsets(4), 4, out]
    compiled.fused_forward(*args)
    ref = reference_pool(p.depth, p.context, p.cell, p.grid.shape).reshape(out.shape)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    bad = {
        1: (feat.double(), r'feat must be Float, got Double'),
        2: (plan.ranks_depth.long(), r'ranks_depth must be int32'),
        3: (plan.ranks_feat[1:], r'ranks_depth and ranks_feat differ in length'),
        5: (plan.interval_lengths[1:], r'interval_starts and interval_lengths differ'),
        7: (plan.tile_offsets(5), r'tile_offsets has 11 entries, expected 13 for 2 x 24 cells'),
        8: (0, r'tile_cells must be positive'),
        9: (torch.empty(2, 4, plan.cells_per_sample), r'out has 4 channels, feat has 5'),
    }
    for index, (value, message) in bad.items():
        with pytest.raises(RuntimeError, match=message):
            compiled.fused_forward(*(args[:index] + [value] + args[index + 1:]))
    with pytest.raises(RuntimeError, match=r'x must be 2-D contiguous'):
        compiled.interval_forward(feat.t(), plan.interval_starts, plan.interval_lengths,
                                  plan.interval_cells, plan.tile_offsets(4), 4, out)
    with pytest.raises(RuntimeError, match=r'grad_cells must have shape \(I, C\)'):
        compiled.fused_backward_depth(out, feat, plan.ranks_depth, plan.ranks_feat,
                                      plan.interval_starts, plan.interval_lengths,
                                      plan.interval_cells, plan.tile_offsets(4), 4,
                                      torch.zeros_like(depth), torch.empty(48, 5))


@pytest.fixture
def failed_build(monkeypatch):
    """Pretends the compiler fails: fresh loader state whose builds raise."""
    calls = []

    def broken(cuda, verbose):
        calls.append(cuda)
        raise RuntimeError('simulated compiler failure')

    monkeypatch.setattr(extension.EXTENSION, '_loaded', {})
    monkeypatch.setattr(extension.EXTENSION, '_failures', {})
    monkeypatch.setattr(extension.EXTENSION, '_warned', False)
    monkeypatch.setattr(extension.EXTENSION, '_compile', broken)
    return calls


@pytest.mark.parametrize('impl', ['fused', 'interval'])
def test_fallback_when_build_fails(failed_build, impl):
    problem = make_problem(11, shape=(2, 2, 3, 3, 2), channels=6)
    with pytest.warns(RuntimeWarning, match='falling back to the slower pure-PyTorch'):
        r = run_impl(problem, impl)
    assert_matches_reference(r, 1e-10)
    assert get_backend(torch.device('cpu')).name == 'torch'
    attempts = len(failed_build)
    assert attempts >= 1
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a second warning would raise here
        assert_matches_reference(run_impl(problem, impl), 1e-10)
    assert len(failed_build) == attempts  # the failed build is not retried
    assert extension_status()['cpu'].startswith('failed: RuntimeError: simulated')


def test_import_compiles_nothing(tmp_path):
    code = ('import simdistill.ops.bev_pool as bp, simdistill.ops; '
            'from simdistill.ops.bev_pool import extension as e; '
            'assert not e.EXTENSION._loaded and not e.EXTENSION._failures, e.status(); '
            'assert callable(bp.bev_pool) and simdistill.ops.bev_pool is bp')
    env = dict(os.environ, SIMDISTILL_OPS_CACHE=str(tmp_path / 'cache'),
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, 'projects', 'SimDistill')] +
                                          sys.path))
    subprocess.run([sys.executable, '-c', code], check=True, env=env, timeout=120)
    assert not (tmp_path / 'cache').exists()


def test_build_directory_follows_env_and_sources(monkeypatch, tmp_path):
    monkeypatch.setenv(extension.CACHE_ENV, str(tmp_path))
    path = extension.build_directory(False)
    assert path.parent == tmp_path
    assert re.fullmatch(rf'bev_pool-{re.escape(torch.__version__)}-cpu-[0-9a-f]{{16}}', path.name)
    args = extension._build_args(False)
    args['extra_cflags'] = args['extra_cflags'] + ['-DCHANGED']
    assert extension.build_directory(False, args) != path


def test_cuda_arch_list_covers_every_torch_arch(monkeypatch):
    monkeypatch.delenv(extension.ARCH_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, 'get_arch_list',
                        lambda: ['sm_50', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120'])
    monkeypatch.setattr(lazy_extension, '_nvcc_archs',
                        lambda: {'75', '80', '86', '89', '90', '100', '120'})
    assert extension.cuda_arch_list() == '8.0;8.6;9.0;10.0;12.0+PTX'
    monkeypatch.setenv(extension.ARCH_ENV, '9.0')
    assert extension.cuda_arch_list() == '9.0'


# --- CUDA -------------------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@settings(max_examples=15, deadline=None)
@given(params=PROBLEMS, wide=st.booleans())
def test_cuda_matches_reference_and_cpu(compiled, impl, dtype, params, wide):
    if wide:  # more channels than one pass of the CUDA kernels (128)
        params = dict(params, channels=130)
    problem = make_problem(dtype=dtype, **params)
    on_cuda = run_impl(problem, impl, device='cuda')
    on_cpu = run_impl(problem, impl, device='cpu')
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert_matches_reference(on_cuda, tol)
    for key in ('out', 'grad_depth', 'grad_context'):
        torch.testing.assert_close(on_cuda[key], on_cpu[key], rtol=tol, atol=tol)


@pytest.mark.parametrize('impl', ['fused', 'interval'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_half_precision(compiled, impl, dtype):
    # inputs and outputs are rounded to 16 bits, sums are accumulated in float32
    problem = make_problem(12, shape=(2, 3, 8, 4, 5), channels=20, cells=(1, 4, 5))
    r = run_impl(problem, impl, device='cuda', dtype=dtype)
    assert r['out'].dtype == dtype
    scale = 1e-2 if dtype == torch.float16 else 4e-2
    for name, ref in (('out', 'ref'), ('grad_depth', 'ref_grad_depth'),
                      ('grad_context', 'ref_grad_context')):
        tol = scale * float(r[ref].abs().max())
        torch.testing.assert_close(r[name].double(), r[ref], rtol=scale, atol=tol, msg=name)


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_gradcheck(compiled, impl):
    problem = make_problem(13, shape=(2, 2, 3, 2, 2), channels=3, cells=(1, 2, 3))
    plan = build_plan(problem.geom.cuda(), problem.grid)
    depth = problem.depth.cuda().requires_grad_()
    context = problem.context.cuda().requires_grad_()
    assert torch.autograd.gradcheck(lambda d, c: bev_pool(d, c, plan, impl=impl),
                                    (depth, context))


@pytest.mark.parametrize('which', ['extension', 'torch'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_every_output_cell_written(compiled, which, dtype):
    test_every_output_cell_written(compiled, which, dtype, device='cuda')


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_long_intervals_and_groups(compiled):
    # > 32 points per cell and per feature row exercise the warp's batched index loads
    problem = make_problem(14, shape=(1, 2, 70, 3, 3), channels=37, cells=(1, 2, 3), hot=1,
                           outside=0.1, dtype=torch.float32)
    plan = build_plan(problem.geom, problem.grid)
    assert int(plan.interval_lengths.max()) > 64
    assert int(plan.feat_groups().lengths.max()) > 32
    assert_matches_reference(run_impl(problem, 'fused', device='cuda'), 1e-4)
    assert get_backend(torch.device('cuda')).name == 'extension'


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_backward_depth_also_gives_grad_cells(compiled):
    test_backward_depth_also_gives_grad_cells(compiled, device='cuda')


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason='needs a CUDA device')
def test_cuda_kernels_are_deterministic(compiled):
    problem = make_problem(18, shape=(2, 3, 40, 4, 5), channels=37, cells=(1, 3, 40), hot=2,
                           dtype=torch.float32)
    first = run_impl(problem, 'fused', device='cuda')
    again = run_impl(problem, 'fused', device='cuda')
    for key in ('out', 'grad_depth', 'grad_context'):
        assert torch.equal(first[key], again[key]), key
