"""Tests of the compiled multi-scale deformable attention (``simdistill.ops.deformable_attention``)
and of the GCM's use of it.

The kernel is compared with mmcv's ``multi_scale_deformable_attn_pytorch`` (``grid_sample`` per
head and level, autograd for the gradients), with a value map whose bilinear samples are known
in closed form, and with finite differences (``gradcheck``).
"""
import os
import subprocess
import sys
import warnings

import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch

from simdistill.models import DeformableGeometryCompensation
from simdistill.models.bev_encoders import deformable_attention as deformable_attention_module
from simdistill.models.bev_encoders.deformable_attention import CPUKernelDeformableAttention
from simdistill.ops import lazy_extension
from simdistill.ops.deformable_attention import (extension_status, kernel_applies,
                                                 kernel_available,
                                                 multi_scale_deformable_attn)
from simdistill.ops.deformable_attention import extension
from simdistill.ops.deformable_attention.function import CompiledMultiScaleDeformableAttn

OPS_DIR = os.path.dirname(os.path.dirname(extension.__file__))  # .../simdistill/ops
SPLITS = [('auto', 0), ('query', 1), ('query', 3), ('head', 1), ('head', 2)]


@pytest.fixture(scope='module')
def compiled():
    """Builds (or loads) the kernel once; a failed build fails these tests."""
    ops = extension.EXTENSION.load(cuda=False)
    assert kernel_available() and extension_status()['cpu'] == 'loaded'
    return ops


def border_coordinates(size: int) -> torch.Tensor:
    """Normalised coordinates on the edges of a map of ``size`` pixels (a power of two, so they
    are exact): pixel coordinate -1.5 (every tap outside), -1 (one tap, weight 0), -0.5 (the map's
    edge), 0 (the first pixel's centre), size - 1, size - 0.5 and size (every tap outside)."""
    pixels = torch.tensor([-1.5, -1.0, -0.5, 0.0, size - 1.0, size - 0.5, size],
                          dtype=torch.float64)
    return (pixels + 0.5) / size


def make_problem(seed, shapes=((4, 8), (2, 4), (8, 2)), bs=2, heads=3, dims=5, queries=7,
                 points=4, dtype=torch.float64, borders=True, spread=(-0.3, 1.3)):
    """Random value, locations in ``spread`` (outside [0, 1] included) and weights; with
    ``borders`` a third of the points sit exactly on a map edge or a pixel centre."""
    gen = torch.Generator().manual_seed(seed)
    shapes_t = torch.tensor(shapes, dtype=torch.long)
    levels = len(shapes)
    keys = int((shapes_t[:, 0] * shapes_t[:, 1]).sum())
    value = torch.randn(bs, keys, heads, dims, generator=gen, dtype=torch.float64)
    lo, hi = spread
    locations = lo + (hi - lo) * torch.rand(bs, queries, heads, levels, points, 2, generator=gen,
                                            dtype=torch.float64)
    if borders:
        for level, (h, w) in enumerate(shapes):
            for axis, size in ((0, w), (1, h)):
                edges = border_coordinates(size)
                chosen = torch.rand(bs, queries, heads, points, generator=gen) < 0.33
                pick = torch.randint(len(edges), (bs, queries, heads, points), generator=gen)
                locations[:, :, :, level, :, axis] = torch.where(
                    chosen, edges[pick], locations[:, :, :, level, :, axis])
    weights = torch.rand(bs, queries, heads, levels, points, generator=gen, dtype=torch.float64)
    return [value.to(dtype), shapes_t, locations.to(dtype), weights.to(dtype)]


def compiled_attn(value, shapes, locations, weights, split='auto', chunks=0):
    return multi_scale_deformable_attn(value, shapes, locations, weights, backward_split=split,
                                       backward_chunks=chunks)


def outputs_and_grads(fn, value, shapes, locations, weights, seed=0):
    """``fn``'s output and the gradients of a random projection of it w.r.t. the inputs."""
    inputs = [t.detach().clone().requires_grad_() for t in (value, locations, weights)]
    out = fn(inputs[0], shapes, inputs[1], inputs[2])
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed),
                           dtype=torch.float64).to(out.dtype)
    grads = torch.autograd.grad(out, inputs, grad_out)
    return [out.detach()] + list(grads)


def max_differences(a, b):
    return [float((x - y).abs().max()) for x, y in zip(a, b)]


# --- forward and gradients against mmcv --------------------------------------------------------

@pytest.mark.parametrize('seed,shapes,bs,heads,dims,points', [
    (0, ((4, 8), (2, 4), (8, 2)), 2, 3, 5, 4),   # three levels, runtime head size
    (1, ((8, 8), ), 3, 8, 10, 6),                 # one level, the GCM's head size (80 / 8)
    (2, ((5, 7), (3, 3)), 1, 2, 8, 1),            # sizes that are not powers of two
    (3, ((1, 1), (2, 16)), 2, 1, 1, 3),           # a 1x1 level, one channel
])
def test_forward_and_gradients_match_mmcv_in_float64(compiled, seed, shapes, bs, heads, dims,
                                                     points):
    borders = all(h & (h - 1) == 0 and w & (w - 1) == 0 for h, w in shapes)
    problem = make_problem(seed, shapes, bs, heads, dims, 9, points, borders=borders)
    expected = outputs_and_grads(multi_scale_deformable_attn_pytorch, *problem)
    assert expected[0].abs().max() > 0.1  # not a vacuous comparison
    for split, chunks in SPLITS:
        got = outputs_and_grads(
            lambda *a: compiled_attn(*a, split=split, chunks=chunks), *problem)
        diffs = max_differences(got, expected)
        assert max(diffs) < 1e-10, (split, chunks, diffs)


def reference_problem(seed):
    """Normalised reference points ``(bs, nq, levels, 2)`` and offsets in pixels of each level
    (up to 3 pixels, so samples also leave the map)."""
    value, shapes, _, weights = make_problem(seed, ((4, 8), (2, 4)), bs=2, heads=3, dims=5,
                                             queries=6, points=3, borders=False)
    gen = torch.Generator().manual_seed(seed)
    reference = torch.rand(2, 6, 2, 2, generator=gen, dtype=torch.float64)
    offsets = 3 * torch.randn(2, 6, 3, 2, 3, 2, generator=gen, dtype=torch.float64)
    return value, shapes, offsets, weights, reference


def mmcv_from_offsets(value, shapes, offsets, weights, reference):
    """mmcv's MultiScaleDeformableAttention: locations = reference + offsets / (W, H)."""
    normalizer = torch.stack([shapes[..., 1], shapes[..., 0]], -1)
    locations = reference[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :,
                                                                         None, :]
    return multi_scale_deformable_attn_pytorch(value, shapes, locations, weights)


@pytest.mark.parametrize('split,chunks', SPLITS)
def test_offsets_around_reference_points_match_mmcv(compiled, split, chunks):
    value, shapes, offsets, weights, reference = reference_problem(14)
    grad_out = torch.randn(2, 6, 15, generator=torch.Generator().manual_seed(0),
                           dtype=torch.float64)
    results = []
    for fn in (mmcv_from_offsets, lambda v, sh, o, w, r: multi_scale_deformable_attn(
            v, sh, o, w, reference_points=r, backward_split=split, backward_chunks=chunks)):
        inputs = [t.clone().requires_grad_() for t in (value, offsets, weights, reference)]
        out = fn(inputs[0], shapes, *inputs[1:])
        results.append([out.detach()] + list(torch.autograd.grad(out, inputs, grad_out)))
    assert results[0][0].abs().max() > 0.1
    diffs = max_differences(*results)
    assert max(diffs) < 1e-10, diffs
    inputs = [t.clone().requires_grad_() for t in (value, offsets, weights, reference)]
    assert torch.autograd.gradcheck(
        lambda v, o, w, r: multi_scale_deformable_attn(
            v, shapes, o, w, reference_points=r, backward_split=split, backward_chunks=chunks),
        inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize('dims', [2, 4, 8, 10, 16, 32])
def test_every_compiled_head_size_matches_mmcv(compiled, dims):
    # 4, 8, 10, 16 and 32 channels per head have their own compiled loops, 2 the generic one
    problem = make_problem(15, ((4, 4), (2, 8)), bs=2, heads=2, dims=dims, queries=5, points=3)
    expected = outputs_and_grads(multi_scale_deformable_attn_pytorch, *problem)
    for split, chunks in SPLITS:
        got = outputs_and_grads(
            lambda *a: compiled_attn(*a, split=split, chunks=chunks), *problem)
        diffs = max_differences(got, expected)
        assert max(diffs) < 1e-10, (split, chunks, diffs)


def test_points_outside_the_map_read_zeros_and_have_zero_gradients(compiled):
    value, shapes, locations, weights = make_problem(4, ((4, 4), ), bs=1, heads=2, dims=3,
                                                     borders=False)
    outside = torch.tensor([[-0.2, 0.5], [1.2, 0.5], [0.5, -0.2], [0.5, 1.126], [3.0, -3.0]],
                           dtype=torch.float64)  # every tap outside (pixel -1.3, 4.004, ...)
    locations[:, :, :, :, :] = outside[torch.arange(4) % 5][None, None, None, None]
    got = outputs_and_grads(compiled_attn, value, shapes, locations, weights)
    assert torch.equal(got[0], torch.zeros_like(got[0]))
    for grad in got[1:]:
        assert torch.equal(grad, torch.zeros_like(grad))


def test_samples_of_a_linear_map_are_exact(compiled):
    # value = 2x + 3y + 1 at pixel (x, y): a bilinear sample strictly inside the map is the
    # same linear function of the pixel coordinates (computed here, not by the code under test)
    H, W = 6, 10
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                            torch.arange(W, dtype=torch.float64), indexing='ij')
    value = (2 * xs + 3 * ys + 1).reshape(1, H * W, 1, 1)
    gen = torch.Generator().manual_seed(5)
    px = torch.rand(1, 50, 1, 1, 3, generator=gen, dtype=torch.float64) * (W - 1)
    py = torch.rand(1, 50, 1, 1, 3, generator=gen, dtype=torch.float64) * (H - 1)
    locations = torch.stack(((px + 0.5) / W, (py + 0.5) / H), dim=-1)
    weights = torch.rand(1, 50, 1, 1, 3, generator=gen, dtype=torch.float64)
    out = multi_scale_deformable_attn(value, torch.tensor([[H, W]]), locations, weights)
    expected = (weights * (2 * px + 3 * py + 1)).sum(-1).reshape(1, 50, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_float32_matches_mmcv(compiled):
    problem = make_problem(6, ((16, 16), (8, 8)), bs=2, heads=8, dims=10, queries=64, points=8,
                           dtype=torch.float32)
    expected = outputs_and_grads(multi_scale_deformable_attn_pytorch, *problem)
    for split, chunks in SPLITS:
        got = outputs_and_grads(
            lambda *a: compiled_attn(*a, split=split, chunks=chunks), *problem)
        assert got[0].dtype == torch.float32
        for name, g, e in zip(('out', 'value', 'locations', 'weights'), got, expected):
            # location gradients are scaled by the map size (16): a looser absolute tolerance
            torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4 if name != 'locations' else
                                       1e-3, msg=f'{name} ({split}, {chunks})')


@pytest.mark.parametrize('split,chunks', SPLITS)
def test_gradcheck(compiled, split, chunks):
    value, shapes, locations, weights = make_problem(7, ((3, 4), (2, 2)), bs=2, heads=2, dims=3,
                                                     queries=3, points=2, borders=False,
                                                     spread=(-0.2, 1.2))
    inputs = [t.requires_grad_() for t in (value, locations, weights)]
    assert torch.autograd.gradcheck(
        lambda v, loc, w: compiled_attn(v, shapes, loc, w, split=split, chunks=chunks), inputs,
        eps=1e-6, atol=1e-6, rtol=1e-5)


def test_one_and_two_threads_agree(compiled):
    problem = make_problem(8, ((8, 8), (4, 4)), bs=2, heads=4, dims=10, queries=40, points=5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = outputs_and_grads(compiled_attn, *problem)
        torch.set_num_threads(2)
        two = outputs_and_grads(compiled_attn, *problem)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one[0], two[0])  # forward: each output row is one thread's
    assert max(max_differences(one, two)) < 1e-12


def test_gradients_only_for_what_asks(compiled):
    value, shapes, locations, weights = make_problem(9, ((4, 4), ), bs=1, queries=5)
    value.requires_grad_()
    out = multi_scale_deformable_attn(value, shapes, locations, weights)
    (grad_value, ) = torch.autograd.grad(out.sum(), [value])
    reference = multi_scale_deformable_attn_pytorch(value, shapes, locations, weights)
    (expected, ) = torch.autograd.grad(reference.sum(), [value])
    assert (grad_value - expected).abs().max() < 1e-12


def test_kernel_checks_its_arguments(compiled):
    value, shapes, locations, weights = make_problem(10, ((4, 4), (2, 2)), bs=1, queries=3)
    out = value.new_empty(1, 3, value.shape[2] * value.shape[3])
    bad = {
        'keys': ((value[:, :-1].contiguous(), shapes, locations, weights), 'spatial shapes sum'),
        'dtype': ((value, shapes, locations.float(), weights), 'must be Double, got Float'),
        'layout': ((value, shapes, locations.transpose(1, 2), weights),
                   'sampling_locations must be contiguous'),
        'half': ((value.half(), shapes, locations.half(), weights.half()), 'float32 or float64'),
    }
    for name, (args, message) in bad.items():
        with pytest.raises(RuntimeError, match=message):
            compiled.forward(*args, None, out if name != 'half' else out.half())
    with pytest.raises(RuntimeError, match=r'reference_points must be contiguous with shape '
                       r'\[1, 3, 2, 2\]'):
        compiled.forward(value, shapes, locations, weights, torch.zeros(1, 3, 1, 2,
                                                                        dtype=value.dtype), out)
    with pytest.raises(RuntimeError, match='split must be'):
        compiled.backward(out, value, shapes, locations, weights, None, 3, 0, None,
                          torch.empty_like(locations), torch.empty_like(weights))


def test_other_dtypes_devices_and_exports_take_mmcv_path(monkeypatch):
    value, shapes, locations, weights = make_problem(11, ((4, 4), ), bs=1, queries=3)
    assert kernel_applies(value, locations, weights)
    assert not kernel_applies(value.half(), locations.half(), weights.half())
    assert not kernel_applies(value.bfloat16())
    assert not kernel_applies(value, locations.float(), weights)
    assert not kernel_applies(value.to('meta'))
    monkeypatch.setattr(torch.onnx, 'is_in_onnx_export', lambda: True)
    assert not kernel_applies(value)


# --- build, fallback, requirement ----------------------------------------------------------------

@pytest.fixture
def failed_build(monkeypatch):
    """Pretends the compiler fails: a fresh loader whose builds raise."""
    broken = lazy_extension.LazyExtension(
        'deformable_attention', 'deformable attention', extension.SOURCE_DIR,
        ('ms_deform_attn.cpp', ), (), 'SIMDISTILL_MSDA_NS', extension.EXTENSION.fallback)

    def compile_fails(cuda, verbose):
        raise RuntimeError('simulated compiler failure')

    monkeypatch.setattr(broken, '_compile', compile_fails)
    monkeypatch.setattr(extension, 'EXTENSION', broken)
    return broken


def test_fallback_warns_once_and_gives_mmcv_numbers(failed_build, monkeypatch):
    monkeypatch.delenv(lazy_extension.REQUIRE_ENV, raising=False)
    problem = make_problem(12, ((4, 8), ), bs=1, queries=5)
    with pytest.warns(RuntimeWarning, match='deformable attention: the compiled kernels are '
                      'unavailable.*simulated compiler failure'):
        got = outputs_and_grads(multi_scale_deformable_attn, *problem)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a second warning would raise here
        again = outputs_and_grads(multi_scale_deformable_attn, *problem)
    expected = outputs_and_grads(multi_scale_deformable_attn_pytorch, *problem)
    assert max(max_differences(got, expected) + max_differences(again, expected)) == 0
    assert not kernel_available()
    assert extension_status()['cpu'] == 'failed: RuntimeError: simulated compiler failure'


def test_required_kernel_raises_naming_why(failed_build, monkeypatch):
    monkeypatch.setenv(lazy_extension.REQUIRE_ENV, '1')
    problem = make_problem(13, ((4, 4), ), bs=1, queries=3)
    gcm = DeformableGeometryCompensation(embed_dims=16, num_heads=4, num_points=2)
    for call in (lambda: multi_scale_deformable_attn(*problem),
                 lambda: gcm(torch.randn(1, 16, 4, 4))):
        with pytest.raises(lazy_extension.CompiledOpsUnavailableError,
                           match=r'deformable attention: .*cpu: RuntimeError: simulated compiler '
                           r'failure.*SIMDISTILL_REQUIRE_COMPILED_OPS is set'):
            call()


def test_import_compiles_nothing(tmp_path):
    # below empty stand-ins of the packages above it, so only torch is imported
    code = ('import sys, types\n'
            f'ops_dir = {OPS_DIR!r}\n'
            'for name, path in (("simdistill", ops_dir + "/.."), ("simdistill.ops", ops_dir)):\n'
            '    sys.modules[name] = types.ModuleType(name)\n'
            '    sys.modules[name].__path__ = [path]\n'
            'import simdistill.ops.deformable_attention as da\n'
            'assert da.extension_status() == {"cpu": "not loaded", "cuda": "not loaded"}\n')
    env = dict(os.environ, SIMDISTILL_OPS_CACHE=str(tmp_path / 'cache'))
    subprocess.run([sys.executable, '-c', code], check=True, env=env, timeout=120)
    assert not (tmp_path / 'cache').exists()


# --- the GCM -----------------------------------------------------------------------------------

def make_gcm(seed=0, embed_dims=32, heads=4, points=5):
    torch.manual_seed(seed)
    gcm = DeformableGeometryCompensation(embed_dims=embed_dims, num_heads=heads,
                                         num_points=points)
    gcm.init_weights()
    with torch.no_grad():  # offsets and weights away from their symmetric initialisation
        for p in gcm.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return gcm.double()


def gcm_outputs_and_grads(gcm, bev):
    bev = bev.detach().clone().requires_grad_()
    out = gcm(bev)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1),
                           dtype=out.dtype)
    params = [p for p in gcm.parameters()]
    grads = torch.autograd.grad(out, [bev] + params, grad_out)
    return [out.detach()] + list(grads)


def test_gcm_runs_the_kernel_and_the_fallback_gives_the_same_numbers(compiled, monkeypatch):
    gcm = make_gcm()
    bev = torch.randn(2, 32, 9, 12, dtype=torch.float64)
    assert isinstance(gcm.attention, CPUKernelDeformableAttention)
    assert gcm.attention.core(bev) == 'cpu_kernel'
    calls = []
    apply = CompiledMultiScaleDeformableAttn.apply

    def counting_apply(*args):
        calls.append(args[0].shape)
        return apply(*args)

    monkeypatch.setattr(CompiledMultiScaleDeformableAttn, 'apply', counting_apply)
    with_kernel = gcm_outputs_and_grads(gcm, bev)
    assert calls == [(2, 9 * 12, 4, 8)]
    # the kernel disabled (mmcv's PyTorch path): the same numbers
    gcm.attention.use_cpu_kernel = False
    assert gcm.attention.core(bev) == 'pytorch'
    without = gcm_outputs_and_grads(gcm, bev)
    assert len(calls) == 1
    diffs = max_differences(with_kernel, without)
    assert max(diffs) < 1e-10, diffs
    assert with_kernel[2 + list(dict(gcm.named_parameters())).index(
        'attention.sampling_offsets.weight')].abs().max() > 0


@pytest.mark.parametrize('options', ['plain', 'query_pos', 'identity_mask', 'sequence_first',
                                     'boxes'])
def test_attention_equals_mmcv_module_with_the_same_weights(compiled, options):
    torch.manual_seed(3)
    kwargs = dict(embed_dims=16, num_heads=2, num_levels=2, num_points=3, dropout=0.0,
                  batch_first=options != 'sequence_first')
    ours = CPUKernelDeformableAttention(**kwargs).double()
    theirs = MultiScaleDeformableAttention(**kwargs).double()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    theirs.load_state_dict(ours.state_dict())
    shapes = torch.tensor([[4, 5], [2, 3]])
    keys, bs, nq = 26, 2, 7
    query = torch.randn(bs, nq, 16, dtype=torch.float64)
    value = torch.randn(bs, keys, 16, dtype=torch.float64)
    ref = torch.rand(bs, nq, 2, 4 if options == 'boxes' else 2, dtype=torch.float64)
    call = dict(value=value, reference_points=ref, spatial_shapes=shapes,
                level_start_index=torch.tensor([0, 20]))
    if options == 'query_pos':
        call['query_pos'] = torch.randn(bs, nq, 16, dtype=torch.float64)
    if options == 'identity_mask':
        call['identity'] = torch.randn(bs, nq, 16, dtype=torch.float64)
        call['key_padding_mask'] = torch.rand(bs, keys) < 0.3
    if options == 'sequence_first':
        query, call['value'] = query.transpose(0, 1), value.transpose(0, 1)
    got, expected = ours(query, **call), theirs(query, **call)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-10


def test_inference_chunks_give_the_unchunked_result(compiled, monkeypatch):
    """Without autograd the queries go to the kernel in chunks (here 3 chunks of 7 queries, the
    last short): the output equals mmcv's module and the unchunked kernel call."""
    torch.manual_seed(4)
    kwargs = dict(embed_dims=16, num_heads=2, num_levels=2, num_points=3, dropout=0.0,
                  batch_first=True)
    ours = CPUKernelDeformableAttention(**kwargs).double()
    theirs = MultiScaleDeformableAttention(**kwargs).double()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
    theirs.load_state_dict(ours.state_dict())
    bs, nq = 2, 17
    query = torch.randn(bs, nq, 16, dtype=torch.float64)
    call = dict(value=torch.randn(bs, 26, 16, dtype=torch.float64),
                reference_points=torch.rand(bs, nq, 2, 2, dtype=torch.float64),
                spatial_shapes=torch.tensor([[4, 5], [2, 3]]),
                level_start_index=torch.tensor([0, 20]))
    calls = []
    kernel = deformable_attention_module.multi_scale_deformable_attn

    def counted(*args, **kw):
        calls.append(args[2].shape[1])  # queries of this call
        return kernel(*args, **kw)

    monkeypatch.setattr(deformable_attention_module, 'multi_scale_deformable_attn', counted)
    ours.inference_query_chunk = 7
    with torch.no_grad():
        chunked = ours(query, **call)
        expected = theirs(query, **call)
        ours.inference_query_chunk = 0
        whole = ours(query, **call)
    assert calls == [7, 7, 3, 17]
    assert (chunked - expected).abs().max() < 1e-10
    assert (chunked - whole).abs().max() < 1e-12
    ours.inference_query_chunk = 7
    calls.clear()
    ours(query, **call).sum().backward()  # with autograd: one call, all queries
    assert calls == [17]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_gcm_on_cuda_keeps_mmcv_kernel_and_matches_the_cpu_kernel(compiled):
    gcm = make_gcm().float()
    bev = torch.randn(2, 32, 9, 12)
    cpu = gcm_outputs_and_grads(gcm, bev)
    gcm.cuda()
    assert gcm.attention.core(bev.cuda()) == 'mmcv_cuda'
    cuda = gcm_outputs_and_grads(gcm, bev.cuda())
    for name, a, b in zip(['out', 'bev'] + [n for n, _ in gcm.named_parameters()], cpu, cuda):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-3, atol=1e-3, msg=name)
