"""Benchmark of the BEV pool implementations at nuScenes size and at a small size.

    PYTHONPATH=projects/SimDistill python3 tools/benchmarks/bev_pool.py --device cpu \
        --out work_dirs/bench/bev_pool_cpu.json

Times forward and forward+backward (median of --repeats samples after --warmup runs; a sample
averages --inner back-to-back calls) of the
fused kernel, the interval kernel on a materialised frustum, the pure-PyTorch reference and
materialise + index_add_, with the plan cached ("cached") or rebuilt from the frustum
coordinates on every call ("recomputed"). Speed is also given as achieved bytes/s over the
compulsory traffic (formula in BYTES_FORMULA, identical for every implementation) against a
plain tensor copy measured in the same run.
"""
import argparse
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

from simdistill.ops.bev_pool import bev_pool, build_plan, extension_status, get_backend
from simdistill.ops.bev_pool.reference import materialize_index_add
from simdistill.structures import BEVGrid
from simdistill.utils.atomic import write_json_atomic

BYTES_FORMULA = (
    'forward: s*(|depth| + |context| + |out|) + 4*(2P + 3I); forward+backward adds '
    's*(|grad_out| + 2|depth| + 2|context|) + 4*(2P + 3I) + 4*(2P + 3G), where s = bytes per '
    'value, P = points in the grid, I = non-empty cells, G = feature rows read (int32 indices); '
    'floor = bytes / copy bandwidth, copy bandwidth = 2 * bytes of a 256 MiB tensor / time of '
    'dst.copy_(src)')
IMPLS = ('fused', 'interval', 'torch', 'materialize+index_add')


@dataclass(frozen=True)
class Size:
    """One benchmark problem: frustum of N cameras around the ego and the BEV grid."""

    name: str
    batch: int
    cams: int
    dmin: float
    dmax: float
    dstep: float
    height: int
    width: int
    channels: int
    grid: BEVGrid
    image: tuple = (256, 704)  # input image (rows, cols); the feature stride is image / (H, W)

    @property
    def depth_bins(self) -> int:
        return int(round((self.dmax - self.dmin) / self.dstep))


SIZES = {
    'nuscenes': Size('nuscenes', 1, 6, 1.0, 60.0, 0.5, 32, 88, 80,
                     BEVGrid((-54.0, 54.0, 0.3), (-54.0, 54.0, 0.3), (-10.0, 10.0, 20.0))),
    'small': Size('small', 2, 6, 1.0, 60.0, 2.0, 16, 44, 32,
                  BEVGrid((-51.2, 51.2, 0.8), (-51.2, 51.2, 0.8), (-10.0, 10.0, 20.0))),
}


def camera_matrices(cams: int, image: tuple, device: torch.device) -> Dict[str, torch.Tensor]:
    """Cameras spread around the ego like nuScenes': intrinsics and camera-to-ego transforms.

    Camera frame: x right, y down, z forward. Ego frame: x forward, y left, z up (metres).
    """
    rows, cols = image
    focal = 0.44 * 1266.0  # nuScenes focal length at the 0.44 resize that gives 704 columns
    intrinsic = torch.tensor([[focal, 0, cols / 2], [0, focal, rows / 2], [0, 0, 1.0]])
    yaws = torch.tensor([0.0, -55.0, 55.0, 180.0, -110.0, 110.0])[:cams].deg2rad()
    rotations, translations = [], []
    for yaw in yaws:
        forward = torch.stack([yaw.cos(), yaw.sin(), torch.tensor(0.0)])
        right = torch.stack([yaw.sin(), -yaw.cos(), torch.tensor(0.0)])
        down = torch.tensor([0.0, 0.0, -1.0])
        rotations.append(torch.stack([right, down, forward], dim=1))  # columns: cam axes in ego
        translations.append(torch.stack([1.2 * yaw.cos(), 0.6 * yaw.sin(), torch.tensor(1.6)]))
    return dict(intrinsic=intrinsic.to(device), rotation=torch.stack(rotations).to(device),
                translation=torch.stack(translations).to(device))


def frustum_geometry(size: Size, mats: Dict[str, torch.Tensor]) -> torch.Tensor:
    """``(B, N, D, H, W, 3)`` ego-frame coordinates of the frustum points, in metres."""
    device = mats['intrinsic'].device
    rows, cols = size.image
    depth = torch.arange(size.dmin, size.dmax, size.dstep, device=device)[:size.depth_bins]
    v = (torch.arange(size.height, device=device) + 0.5) * rows / size.height
    u = (torch.arange(size.width, device=device) + 0.5) * cols / size.width
    pix = torch.stack(torch.broadcast_tensors(u[None, :], v[:, None], torch.ones(1, 1,
                                                                                  device=device)),
                      dim=-1)  # (H, W, 3)
    rays = pix @ torch.linalg.inv(mats['intrinsic']).T  # (H, W, 3), z = 1
    cam_pts = depth[:, None, None, None] * rays  # (D, H, W, 3)
    ego = torch.einsum('nij,dhwj->ndhwi', mats['rotation'], cam_pts)
    ego = ego + mats['translation'][:, None, None, None, :]
    return ego.unsqueeze(0).expand(size.batch, -1, -1, -1, -1, -1).contiguous()


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timeit(fn: Callable[[], None], device: torch.device, warmup: int, repeats: int,
           inner: int = 1) -> List[float]:
    """Seconds per call: each of ``repeats`` samples times ``inner`` back-to-back calls (on
    CUDA they queue up, so the host-side overhead of one call overlaps the previous kernels)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        sync(device)
        times.append((time.perf_counter() - start) / inner)
    return times


def copy_bandwidth(device: torch.device, repeats: int) -> float:
    """Bytes/s of ``dst.copy_(src)`` on a 256 MiB float32 tensor (read + write counted)."""
    src = torch.rand(64 * 2**20, device=device)
    dst = torch.empty_like(src)
    times = timeit(lambda: dst.copy_(src), device, 2, max(repeats, 5))
    return 2 * src.numel() * src.element_size() / statistics.median(times)


def run_size(size: Size, device: torch.device, impls: List[str], modes: List[str],
             geometries: List[str], warmup: int, repeats: int, inner: int,
             copy_bps: float, dtype: torch.dtype = torch.float32) -> dict:
    mats = camera_matrices(size.cams, size.image, device)
    geom = frustum_geometry(size, mats)
    gen = torch.Generator(device='cpu').manual_seed(0)
    shape = (size.batch, size.cams, size.depth_bins, size.height, size.width)
    depth = torch.rand(shape, generator=gen).softmax(dim=2).to(device, dtype)
    context = torch.randn((size.batch, size.cams, size.channels, size.height, size.width),
                          generator=gen).to(device, dtype)
    plan = build_plan(geom, size.grid)
    groups = plan.feat_groups()
    out_shape = plan.output_shape(size.channels)
    grad_out = torch.randn(out_shape, generator=gen).to(device, dtype)
    s = depth.element_size()
    n_depth, n_ctx, n_out = depth.numel(), context.numel(), math.prod(out_shape)
    index_bytes = 4 * (2 * plan.num_points + 3 * plan.num_intervals)
    fwd_bytes = s * (n_depth + n_ctx + n_out) + index_bytes
    bwd_bytes = (s * (n_out + 2 * n_depth + 2 * n_ctx) + index_bytes + 4 *
                 (2 * plan.num_points + 3 * groups.feats.numel()))
    lengths = plan.interval_lengths.float()
    info = dict(
        shape=dict(B=size.batch, N=size.cams, D=size.depth_bins, H=size.height, W=size.width,
                   C=size.channels, grid_zyx=list(size.grid.shape)), dtype=str(dtype),
        frustum_points=n_depth, points_in_grid=plan.num_points,
        nonempty_cells=plan.num_intervals, feature_rows_read=groups.feats.numel(),
        points_per_cell_mean=round(float(lengths.mean()), 2),
        points_per_cell_max=int(lengths.max()),
        frustum_MB=round(n_depth * size.channels * s / 1e6, 1),
        bytes=dict(forward=fwd_bytes, forward_backward=fwd_bytes + bwd_bytes),
        results=[])

    def pool(impl: str, d: torch.Tensor, c: torch.Tensor, recompute: bool) -> torch.Tensor:
        p = build_plan(geom, size.grid) if recompute else plan
        if impl == 'materialize+index_add':
            return materialize_index_add(d, c, p)
        return bev_pool(d, c, p, impl=impl)

    for geometry in geometries:
        recompute = geometry == 'recomputed'
        for mode in modes:
            for impl in impls:
                if mode == 'forward':
                    def step(impl=impl):
                        with torch.no_grad():
                            pool(impl, depth, context, recompute)
                else:
                    d = depth.clone().requires_grad_()
                    c = context.clone().requires_grad_()

                    def step(impl=impl, d=d, c=c):
                        d.grad = c.grad = None
                        pool(impl, d, c, recompute).backward(grad_out)
                times = timeit(step, device, warmup, repeats, inner)
                median = statistics.median(times)
                moved = fwd_bytes if mode == 'forward' else fwd_bytes + bwd_bytes
                info['results'].append(dict(
                    impl=impl, mode=mode, geometry=geometry, median_s=median,
                    times_s=[round(t, 6) for t in times], GBps=moved / median / 1e9,
                    x_floor=median / (moved / copy_bps)))
                print(f'  {size.name:9s} {geometry:10s} {mode:16s} {impl:22s} '
                      f'{median * 1e3:10.3f} ms', file=sys.stderr, flush=True)
    return info


def speedup(info: dict, slow: str, fast: str, mode: str, geometry: str = 'cached'
            ) -> Optional[float]:
    times = {(r['impl'], r['mode'], r['geometry']): r['median_s'] for r in info['results']}
    a, b = times.get((slow, mode, geometry)), times.get((fast, mode, geometry))
    return None if a is None or b is None else a / b


def targets(report: dict) -> List[dict]:
    """The issue's performance targets, evaluated (reported, never asserted)."""
    info = report['sizes'].get('nuscenes')
    if info is None:
        return []
    out = []
    for mode in ('forward', 'forward+backward'):
        if report['device'] == 'cpu':
            ratio = speedup(info, 'materialize+index_add', 'fused', mode)
            out.append(dict(target=f'CPU {mode}: fused >= 20x faster than materialize+index_add',
                            value=ratio, met=None if ratio is None else ratio >= 20))
        else:
            ratio = speedup(info, 'interval', 'fused', mode)
            out.append(dict(target=f'GPU {mode}: fused >= 5x faster than interval',
                            value=ratio, met=None if ratio is None else ratio >= 5))
            floor = [r['x_floor'] for r in info['results']
                     if (r['impl'], r['mode'], r['geometry']) == ('fused', mode, 'cached')]
            out.append(dict(target=f'GPU {mode}: fused within 3x of the memory floor',
                            value=floor[0] if floor else None,
                            met=(floor[0] <= 3) if floor else None))
    return out


def print_table(report: dict) -> None:
    print(f"device: {report['device_name']} ({report['device']}), torch {report['torch']}, "
          f"threads {report['threads']}, kernels: {report['backend']}")
    print(f"copy bandwidth: {report['copy_GBps']:.2f} GB/s; median of {report['repeats']} "
          f"samples of {report['inner']} call(s) after {report['warmup']} warm-up")
    print(f'bytes: {BYTES_FORMULA}')
    for name, info in report['sizes'].items():
        sh = info['shape']
        print(f"\n{name}: B={sh['B']} N={sh['N']} D={sh['D']} H={sh['H']} W={sh['W']} "
              f"C={sh['C']} grid(Z,Y,X)={tuple(sh['grid_zyx'])}; frustum points "
              f"{info['frustum_points']:,}, in grid {info['points_in_grid']:,}, non-empty cells "
              f"{info['nonempty_cells']:,} (points/cell mean {info['points_per_cell_mean']}, "
              f"max {info['points_per_cell_max']}), materialised frustum "
              f"{info['frustum_MB']} MB")
        print(f"| {'geometry':10s} | {'pass':16s} | {'impl':22s} | {'median ms':>10s} | "
              f"{'GB/s':>7s} | {'x floor':>8s} | {'vs fused':>8s} |")
        print(f"|{'-' * 12}|{'-' * 18}|{'-' * 24}|{'-' * 12}|{'-' * 9}|{'-' * 10}|{'-' * 10}|")
        for r in info['results']:
            ref = speedup(info, r['impl'], 'fused', r['mode'], r['geometry'])
            print(f"| {r['geometry']:10s} | {r['mode']:16s} | {r['impl']:22s} | "
                  f"{r['median_s'] * 1e3:10.3f} | {r['GBps']:7.2f} | {r['x_floor']:8.1f} | "
                  f"{ref:7.1f}x |")
    for t in report['targets']:
        value = 'n/a' if t['value'] is None else f"{t['value']:.2f}"
        met = {True: 'met', False: 'NOT met', None: 'n/a'}[t['met']]
        print(f"target: {t['target']}: {value} ({met})")


def write_json(path: str, report: dict) -> None:
    write_json_atomic(path, report, indent=2)


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument('--sizes', nargs='+', default=list(SIZES), choices=list(SIZES))
    parser.add_argument('--impls', nargs='+', default=list(IMPLS), choices=IMPLS)
    parser.add_argument('--modes', nargs='+', default=['forward', 'forward+backward'],
                        choices=('forward', 'forward+backward'))
    parser.add_argument('--geometry', nargs='+', default=['cached', 'recomputed'],
                        choices=('cached', 'recomputed'))
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--inner', type=int, default=None,
                        help='back-to-back calls per timed sample (default: 1 on CPU, 10 on '
                        'CUDA, where it hides the host-side overhead behind queued kernels)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s own setting)')
    parser.add_argument('--out', default=None, help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error('--repeats must be >= 5')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda but torch.cuda.is_available() is False')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    inner = args.inner or (10 if device.type == 'cuda' else 1)
    backend = get_backend(device).name  # builds the kernels before any timing
    report = dict(
        device=args.device,
        device_name=(torch.cuda.get_device_name(device) if device.type == 'cuda' else
                     platform.processor() or platform.machine()),
        cpu_count=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
        backend=backend, extension=extension_status(), warmup=args.warmup,
        repeats=args.repeats, inner=inner, bytes_formula=BYTES_FORMULA,
        copy_GBps=copy_bandwidth(device, args.repeats) / 1e9, sizes={})
    for name in args.sizes:
        report['sizes'][name] = run_size(SIZES[name], device, args.impls, args.modes,
                                         args.geometry, args.warmup, args.repeats, inner,
                                         report['copy_GBps'] * 1e9)
    report['targets'] = targets(report)
    print_table(report)
    if args.out:
        write_json(args.out, report)
        print(f'\nwrote {args.out}')
    return report


if __name__ == '__main__':
    main()
