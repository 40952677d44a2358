"""Forward time and peak memory of the camera baseline and the SimDistill student, batch 1.

    python tools/benchmarks/student_latency.py                      # CPU size and paper size
    python tools/benchmarks/student_latency.py --sizes cpu --repeats 20

Models: the camera-only baseline (BEVFusion-C), the student (separate simulated-LiDAR LSS +
deformable GCM + simulated fusion), the student without the GCM, and the student with the
release's shared view transform (the simulated branch reduced to the GCM). Each is built from
its config with random weights (no download; time does not depend on the values) and run on six
random images with a nuScenes camera rig, in ``eval()`` under ``no_grad``, up to the head's raw
outputs (box decoding and NMS excluded). Each (model, size) runs in a fresh process: peak memory
is the rise of the process's peak resident set size over the forward passes (MiB). Median time
over ``--repeats`` runs after one warm-up, all in one invocation, so ratios are comparable.
Prints a table and writes ``tools/benchmarks/results/student_latency.json`` (atomically).
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

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'cpu': dict(baseline='configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py',
                student='configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'),
    'paper': dict(
        baseline='configs/bevfusion/bevfusion_cam_swint_8xb4-cyclic-20e_nus-3d.py',
        student='configs/simdistill/simdistill-student_swint_8xb4-cyclic-20e_nus-3d.py'),
}
VARIANTS = ('baseline', 'student', 'student_without_gcm', 'student_shared_lss')


def model_cfg(size: str, variant: str):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[size]['baseline' if variant == 'baseline'
                                                      else 'student']))
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
    from simdistill.datasets.synthetic_nuscenes.rig import (CAMERA_CHANNELS, LIDAR_CHANNEL,
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


def measure(size: str, variant: str, repeats: int) -> dict:
    """Runs in the child process: build, warm up, time, report peak RSS growth."""
    import torch
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    from mmdet3d.registry import MODELS
    from mmdet3d.structures import Det3DDataSample
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    model = MODELS.build(model_cfg(size, variant)).eval()
    vt = model.view_transform
    H, W = vt.image_size
    imgs = torch.randn(1, 6, 3, H, W)
    samples = [Det3DDataSample(metainfo=camera_metas(vt))]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            model._forward({'imgs': imgs}, samples)
            if i:  # the first run is the warm-up (plan build, allocator)
                times.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    params = sum(p.numel() for p in model.parameters())
    return dict(size=size, variant=variant, median_ms=1000 * statistics.median(times),
                min_ms=1000 * min(times), repeats=repeats, params_m=params / 1e6,
                peak_rss_growth_mib=(rss_after - rss_before) / 1024,
                image_size=[H, W], bev_shape=list(vt.bev_shape))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['cpu', 'paper'], choices=list(CONFIGS))
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--paper-repeats', type=int, default=3)
    parser.add_argument('--out', default=osp.join(ROOT, 'tools/benchmarks/results/'
                                                        'student_latency.json'))
    parser.add_argument('--child', nargs=2, metavar=('SIZE', 'VARIANT'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, variant = args.child
        repeats = args.paper_repeats if size == 'paper' else args.repeats
        print(json.dumps(measure(size, variant, repeats)))
        return
    sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
    from simdistill.utils.atomic import atomic_path
    rows = []
    for size in args.sizes:
        for variant in VARIANTS:
            print(f'[student_latency] {size} {variant} ...', flush=True)
            out = subprocess.run(
                [sys.executable, __file__, '--child', size, variant, '--repeats',
                 str(args.repeats), '--paper-repeats', str(args.paper_repeats)],
                check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print('\n| size | model | median ms | ratio to baseline | peak RSS growth MiB | params M |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        base = next(r for r in rows if r['size'] == row['size'] and r['variant'] == 'baseline')
        row['time_ratio_to_baseline'] = row['median_ms'] / base['median_ms']
        print(f'| {row["size"]} | {row["variant"]} | {row["median_ms"]:.0f} | '
              f'{row["time_ratio_to_baseline"]:.2f} | {row["peak_rss_growth_mib"]:.0f} | '
              f'{row["params_m"]:.2f} |')
    import torch
    result = dict(benchmark='student_latency', batch=1, device='cpu',
                  threads=torch.get_num_threads(), machine=platform.processor() or
                  platform.machine(), rows=rows)
    with atomic_path(args.out) as tmp, open(tmp, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
