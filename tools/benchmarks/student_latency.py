"""Forward time and peak memory of the camera baseline and the SimDistill student, batch 1;
the geometry compensation module (GCM) alone; the CPU distiller's training step.

    python tools/benchmarks/student_latency.py                      # CPU size and paper size
    python tools/benchmarks/student_latency.py --sizes cpu --repeats 20
    python tools/benchmarks/student_latency.py --parts gcm --gcm-batches 1 2
    python tools/benchmarks/student_latency.py --sizes cpu --repeats 1 --gcm-repeats 1 \
        --train-repeats 1 --out /tmp/smoke.json                    # smoke run

Models: the camera-only baseline (BEVFusion-C), the student (separate simulated-LiDAR LSS +
deformable GCM + simulated fusion), the student without the GCM, and the student with the
release's shared view transform (the simulated branch reduced to the GCM), and the student
whose GCM samples with mmcv's PyTorch path instead of the compiled CPU kernel
(``student_pytorch_gcm``; ``--variants teacher`` adds the LiDAR + camera teacher, its points
voxelised outside the timing). Each is built from
its config with random weights (no download; time does not depend on the values) and run on six
random images with a nuScenes camera rig, in ``eval()`` under ``no_grad``, up to the head's raw
outputs (box decoding and NMS excluded). Each (model, size) runs in a fresh process: peak memory
is the rise of the process's peak resident set size over the forward passes (MiB). Median time
over ``--repeats`` runs after one warm-up, all in one invocation, so ratios are comparable.

``--parts gcm``: the student config's ``DeformableGeometryCompensation`` alone on a random BEV
map of the student's size and width, batch ``--gcm-batches``, forward (``eval``, ``no_grad``)
and forward + backward (gradients of the map and of the parameters), its core sampling run by
the compiled CPU kernel (``cpu_kernel``) or by mmcv's ``multi_scale_deformable_attn_pytorch``
(``pytorch``), both in one process, alternating. ``--parts train_step``: mmengine's
``train_step`` (preprocessing, teacher and student forward, losses, backward, AdamW) of the CPU
distiller at batch 1 on a synthetic sample (six random images, a 10-sweep 32-beam point cloud,
40 boxes; ``train_memory.py``'s), randomly initialised teacher, with and without the kernel.

``--parts paired``: the baseline and the student built in one process and run in turn, one
forward each per round, ``2 * --repeats`` rounds: the median of the rounds' time ratios is the
latency comparison least moved by a shared machine's drift (the separate processes above
measured the CPU-size ratio anywhere from 0.95 to 1.43 on this 2-core machine).

Prints tables and writes ``tools/benchmarks/results/student_latency.json`` (atomically), with
``targets`` (reported, never asserted): student / baseline time (paired) <= 1.15 at CPU size and
<= 1.10 at paper size, peak RSS growth <= 1.5x the baseline's, and the GCM with the kernel >= 5x
faster than with the PyTorch path, per size, batch and pass.
"""
import argparse
import json
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'cpu': dict(baseline='configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py',
                student='configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py',
                teacher='configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-'
                '3d.py'),
    'paper': dict(
        baseline='configs/bevfusion/bevfusion_cam_swint_8xb4-cyclic-20e_nus-3d.py',
        student='configs/simdistill/simdistill-student_swint_8xb4-cyclic-20e_nus-3d.py',
        teacher='configs/bevfusion/bevfusion_lidar-cam_swint-voxel0075-transfusion_8xb4-cyclic-'
        '20e_nus-3d.py'),
}
VARIANTS = ('baseline', 'student', 'student_pytorch_gcm', 'student_without_gcm',
            'student_shared_lss')
OPTIONAL_VARIANTS = ('teacher', )
PARTS = ('latency', 'paired', 'gcm', 'train_step')
CORES = ('cpu_kernel', 'pytorch')  # who samples in the GCM's attention
GCM_TARGET = 5.0  # the goal: the GCM with the kernel >= 5x faster than without
LATENCY_TARGET = {'cpu': 1.15, 'paper': 1.10}  # student / baseline time
RSS_TARGET = 1.5  # student / baseline peak RSS growth


def config_path(size: str, variant: str) -> str:
    kind = variant if variant in ('baseline', 'teacher') else 'student'
    return osp.join(ROOT, CONFIGS[size][kind])


def model_cfg(size: str, variant: str):
    from mmengine.config import Config
    cfg = Config.fromfile(config_path(size, variant))
    m = cfg.model
    m.img_backbone.init_cfg = None  # random weights: no download, same time
    if variant == 'student_without_gcm':
        m.geometry_compensation = None
    elif variant == 'student_shared_lss':
        m.sim_lidar_view_transform, m.share_view_transform = None, True
    return m


def camera_metas(view_transform):
    """A nuScenes rig (the synthetic generator's) seen at the network's input size."""
    import numpy as np
    from synthetic_nuscenes.rig import (CAMERA_CHANNELS, LIDAR_CHANNEL,
                                                            calibrate_rig)
    H, W = view_transform.image_size
    scale = W / 1600
    rig = calibrate_rig(np.random.default_rng(0), scale)

    def to_ego(channel):  # 4 x 4 sensor -> ego
        out = np.eye(4)
        out[:3, :3] = rig[channel].sensor_to_ego.matrix
        out[:3, 3] = rig[channel].sensor_to_ego.translation
        return out

    lidar2ego = to_ego(LIDAR_CHANNEL)
    cam2img, lidar2cam, img_aug = [], [], []
    for channel in CAMERA_CHANNELS:
        k = np.eye(4)
        k[:3, :3] = rig[channel].intrinsic
        cam2img.append(k)
        lidar2cam.append(np.linalg.inv(to_ego(channel)) @ lidar2ego)
        aug = np.eye(4)
        aug[1, 3] = -(round(900 * scale) - H)  # keep the bottom H rows
        img_aug.append(aug)
    return dict(cam2img=np.stack(cam2img), lidar2cam=np.stack(lidar2cam),
                img_aug_matrix=np.stack(img_aug), lidar_aug_matrix=np.eye(4))


def set_gcm_core(model, core: str) -> None:
    """Makes the GCM's attention sample with ``core`` (see ``CORES``), if the model has one."""
    gcm = getattr(model, 'geometry_compensation', None)
    if gcm is not None and hasattr(gcm, 'attention'):
        gcm.attention.use_cpu_kernel = core == 'cpu_kernel'


def sync(device) -> None:
    import torch
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def times_ms(fn: Callable[[], object], repeats: int, device: str = 'cpu',
             warmup: int = 1) -> List[float]:
    """Milliseconds of each of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(1000 * (time.perf_counter() - start))
    return times


def build_for_timing(size: str, variant: str, device: str = 'cpu') -> tuple:
    """``(model, inputs, samples)``: ``variant``'s model at ``size`` (random weights, ``eval``,
    the GCM's core as the variant says) and what its forward takes: six random images with a
    nuScenes rig, or for the teacher images and points through its data preprocessor (voxels).
    Seeds torch and flushes denormals, as every timing here does."""
    import numpy as np
    import torch
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    from mmdet3d.registry import MODELS
    from mmdet3d.structures import Det3DDataSample
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    model = MODELS.build(model_cfg(size, variant)).to(device).eval()
    set_gcm_core(model, 'pytorch' if variant == 'student_pytorch_gcm' else 'cpu_kernel')
    vt = model.view_transform
    if variant == 'teacher':
        from train_memory import paper_batch
        with torch.no_grad():
            data = model.data_preprocessor(paper_batch(vt, np.random.default_rng(0)), False)
        return model, data['inputs'], data['data_samples']
    H, W = vt.image_size
    inputs = {'imgs': torch.randn(1, 6, 3, H, W, device=device)}
    return model, inputs, [Det3DDataSample(metainfo=camera_metas(vt))]


def measure(size: str, variant: str, repeats: int, device: str = 'cpu') -> dict:
    """Runs in the child process: build, warm up, time, report peak memory growth (RSS on CPU,
    ``torch.cuda.max_memory_allocated`` on CUDA)."""
    import torch
    model, inputs, samples = build_for_timing(size, variant, device)
    vt = model.view_transform
    H, W = vt.image_size
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device != 'cpu':
        torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():  # the warm-up run builds the plan and warms the allocator
        times = times_ms(lambda: model._forward(inputs, samples), repeats, device)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    params = sum(p.numel() for p in model.parameters())
    row = dict(size=size, variant=variant, median_ms=statistics.median(times),
               min_ms=min(times), repeats=repeats, params_m=params / 1e6,
               peak_rss_growth_mib=(rss_after - rss_before) / 1024,
               image_size=[H, W], bev_shape=list(vt.bev_shape), device=device)
    if device != 'cpu':
        row['peak_cuda_mib'] = torch.cuda.max_memory_allocated(device) / 2**20
    gcm = getattr(model, 'geometry_compensation', None)
    if gcm is not None and hasattr(gcm, 'attention'):
        row['gcm_core'] = gcm.attention.core(torch.zeros(1, device=device))
    return row


def measure_paired(size: str, repeats: int) -> dict:
    """Runs in the child process: the baseline and the student built side by side, one forward
    of each in turn, ``repeats`` rounds after a warm-up each. The machine's drift (other
    tenants, clock) hits both alike, so the ratio of each round is a fair sample; reported: the
    median of the rounds' ratios and each model's median time."""
    import torch
    runs = {}
    for variant in ('baseline', 'student'):
        model, inputs, samples = build_for_timing(size, variant)
        runs[variant] = (lambda m=model, i=inputs, s=samples: m._forward(i, s))
    times = {variant: [] for variant in runs}
    with torch.no_grad():
        for run in runs.values():
            run()  # builds the plan, warms the allocator
        for _ in range(repeats):
            for variant, run in runs.items():
                times[variant] += times_ms(run, 1, warmup=0)
    ratios = [s / b for s, b in zip(times['student'], times['baseline'])]
    return dict(size=size, repeats=repeats, student_to_baseline=statistics.median(ratios),
                baseline_median_ms=statistics.median(times['baseline']),
                student_median_ms=statistics.median(times['student']),
                round_ratios=ratios)


def measure_gcm(size: str, batch: int, repeats: int) -> List[dict]:
    """Runs in the child process: the student's GCM alone, both cores, both passes."""
    import torch
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    from mmdet3d.registry import MODELS
    from simdistill.ops.deformable_attention import extension_status, kernel_available
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    m = model_cfg(size, 'student')
    ny, nx = MODELS.build(m.view_transform).bev_shape
    gcm = MODELS.build(dict(m.geometry_compensation, bev_shape=(ny, nx)))  # as the student does
    gcm.init_weights()
    bev = torch.randn(batch, m.geometry_compensation.embed_dims, ny, nx)
    if not kernel_available():
        raise RuntimeError(f'the deformable attention kernel is unavailable: {extension_status()}')

    def forward():
        with torch.no_grad():
            gcm(bev)

    def forward_backward():
        x = bev.clone().requires_grad_()
        gcm.zero_grad(set_to_none=True)
        gcm(x).sum().backward()

    rows = []
    passes = (('forward', forward, False), ('forward+backward', forward_backward, True))
    for mode, fn, train in passes:
        gcm.train(train)
        times = {core: [] for core in CORES}
        for _ in range(repeats):  # alternate, so both cores see the same machine load
            for core in CORES:
                gcm.attention.use_cpu_kernel = core == 'cpu_kernel'
                times[core] += times_ms(fn, 1, warmup=0 if times[core] else 1)
        for core in CORES:
            rows.append(dict(size=size, batch=batch, bev_shape=[ny, nx],
                             channels=gcm.embed_dims, heads=gcm.attention.num_heads,
                             points=gcm.attention.num_points, mode=mode, core=core,
                             median_ms=statistics.median(times[core]),
                             min_ms=min(times[core]), repeats=repeats))
    return rows


def measure_train_step(repeats: int) -> List[dict]:
    """Runs in the child process: the CPU distiller's train_step with each GCM core."""
    import tempfile
    import torch
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    from train_memory import CONFIGS as TRAIN_CONFIGS
    from train_memory import paper_train_step_setup
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory(prefix='student_latency_') as work_dir:
        model, optim_wrapper, batch = paper_train_step_setup('cpu_distiller', work_dir)
    times = {core: [] for core in CORES}
    for _ in range(repeats):
        for core in CORES:
            set_gcm_core(model.student, core)
            times[core] += times_ms(lambda: model.train_step(batch, optim_wrapper), 1,
                                    warmup=0 if times[core] else 1)
    return [dict(model='cpu_distiller', config=TRAIN_CONFIGS['cpu_distiller'], batch=1,
                 core=core, median_ms=statistics.median(times[core]), min_ms=min(times[core]),
                 repeats=repeats) for core in CORES]


def student_targets(rows: List[dict], paired_rows: List[dict]) -> List[dict]:
    """Issue 20's goals for the whole student: time (paired rounds) <= LATENCY_TARGET[size] x
    the baseline's, peak RSS growth <= RSS_TARGET x the baseline's."""
    out = [dict(target=f"student / baseline time, {row['size']} size (paired rounds) <= "
                f"{LATENCY_TARGET[row['size']]:g}", value=row['student_to_baseline'],
                met=row['student_to_baseline'] <= LATENCY_TARGET[row['size']])
           for row in paired_rows]
    for row in rows:
        base = next((r for r in rows if r['size'] == row['size'] and r['variant'] == 'baseline'),
                    None)
        if row['variant'] == 'student' and base is not None:
            ratio = row['peak_rss_growth_mib'] / base['peak_rss_growth_mib']
            out.append(dict(target=f"student / baseline peak RSS growth, {row['size']} size <= "
                            f'{RSS_TARGET:g}', value=ratio, met=ratio <= RSS_TARGET))
    return out


def gcm_targets(gcm_rows: List[dict]) -> List[dict]:
    """The GCM goal per (size, batch, pass): kernel >= GCM_TARGET x faster than PyTorch."""
    out = []
    for row in gcm_rows:
        if row['core'] != 'cpu_kernel':
            continue
        slow = next(r for r in gcm_rows if r['core'] == 'pytorch' and all(
            r[k] == row[k] for k in ('size', 'batch', 'mode')))
        ratio = slow['median_ms'] / row['median_ms']
        out.append(dict(target=f"GCM {row['size']} size, batch {row['batch']}, {row['mode']}: "
                        f'cpu_kernel >= {GCM_TARGET:g}x faster than pytorch', value=ratio,
                        met=ratio >= GCM_TARGET))
    return out


def child(args: List[str]) -> object:
    """Runs one measurement in a fresh process; returns its JSON result."""
    out = subprocess.run([sys.executable, __file__, '--child', *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_child(argv: List[str]) -> object:
    kind, *rest = argv
    if kind == 'latency':
        size, variant, repeats, device = rest
        return measure(size, variant, int(repeats), device)
    if kind == 'gcm':
        size, batch, repeats = rest
        return measure_gcm(size, int(batch), int(repeats))
    if kind == 'paired':
        size, repeats = rest
        return measure_paired(size, int(repeats))
    return measure_train_step(int(rest[0]))


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['cpu', 'paper'], choices=list(CONFIGS))
    parser.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=VARIANTS + OPTIONAL_VARIANTS)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--paper-repeats', type=int, default=3)
    parser.add_argument('--gcm-batches', nargs='+', type=int, default=[1, 2])
    parser.add_argument('--gcm-repeats', type=int, default=5)
    parser.add_argument('--train-repeats', type=int, default=3)
    parser.add_argument('--out', default=osp.join(ROOT, 'tools/benchmarks/results/'
                                                        'student_latency.json'))
    parser.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child)))
        return {}
    sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
    from simdistill.utils.atomic import write_json_atomic
    rows, paired_rows, gcm_rows, train_rows = [], [], [], []
    for size in args.sizes:
        repeats = args.paper_repeats if size == 'paper' else args.repeats
        for variant in (args.variants if 'latency' in args.parts else []):
            print(f'[student_latency] {size} {variant} ...', flush=True)
            rows.append(child(['latency', size, variant, str(repeats), 'cpu']))
        if 'paired' in args.parts:
            print(f'[student_latency] {size} baseline and student in turn ...', flush=True)
            paired_rows.append(child(['paired', size, str(2 * repeats)]))
        for batch in (args.gcm_batches if 'gcm' in args.parts else []):
            print(f'[student_latency] {size} GCM batch {batch} ...', flush=True)
            gcm_rows += child(['gcm', size, str(batch), str(args.gcm_repeats)])
    if 'train_step' in args.parts:
        print('[student_latency] CPU distiller train_step ...', flush=True)
        train_rows = child(['train_step', str(args.train_repeats)])
    print_tables(rows, gcm_rows, train_rows)
    for row in paired_rows:
        print(f"paired ({row['repeats']} rounds): {row['size']} student / baseline = "
              f"{row['student_to_baseline']:.2f} ({row['student_median_ms']:.0f} / "
              f"{row['baseline_median_ms']:.0f} ms)")
    import torch
    result = dict(benchmark='student_latency', batch=1, device='cpu',
                  threads=torch.get_num_threads(), machine=platform.processor() or
                  platform.machine(), rows=rows, paired_rows=paired_rows, gcm_rows=gcm_rows,
                  train_step_rows=train_rows,
                  targets=student_targets(rows, paired_rows) + gcm_targets(gcm_rows))
    for t in result['targets']:
        print(f"target: {t['target']}: {t['value']:.2f} ({'met' if t['met'] else 'NOT met'})")
    write_json_atomic(args.out, result)
    print(f'wrote {args.out}')
    return result


def print_tables(rows: List[dict], gcm_rows: List[dict], train_rows: List[dict]) -> None:
    if rows:
        print('\n| size | model | median ms | ratio to baseline | peak RSS growth MiB | '
              'params M |')
        print('|---|---|---|---|---|---|')
    for row in rows:
        base = next((r for r in rows if r['size'] == row['size'] and r['variant'] == 'baseline'),
                    None)
        row['time_ratio_to_baseline'] = None if base is None else \
            row['median_ms'] / base['median_ms']
        ratio = '' if base is None else f"{row['time_ratio_to_baseline']:.2f}"
        print(f'| {row["size"]} | {row["variant"]} | {row["median_ms"]:.0f} | {ratio} | '
              f'{row["peak_rss_growth_mib"]:.0f} | {row["params_m"]:.2f} |')
    if gcm_rows:
        print('\n| size | BEV | batch | pass | cpu_kernel ms | pytorch ms | speed-up |')
        print('|---|---|---|---|---|---|---|')
    for row in gcm_rows:
        if row['core'] == 'cpu_kernel':
            slow = next(r for r in gcm_rows if r['core'] == 'pytorch' and all(
                r[k] == row[k] for k in ('size', 'batch', 'mode')))
            print(f"| {row['size']} | {row['bev_shape'][0]}x{row['bev_shape'][1]}x"
                  f"{row['channels']} | {row['batch']} | {row['mode']} | "
                  f"{row['median_ms']:.1f} | {slow['median_ms']:.1f} | "
                  f"{slow['median_ms'] / row['median_ms']:.1f}x |")
    if train_rows:
        print('\n| model | GCM core | train_step median ms |')
        print('|---|---|---|')
    for row in train_rows:
        print(f"| {row['model']} | {row['core']} | {row['median_ms']:.0f} |")


if __name__ == '__main__':
    main()
