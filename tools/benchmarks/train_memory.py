"""Peak memory (RAM) of one training step of each model on CPU.

    python tools/benchmarks/train_memory.py                          # every model, one by one
    python tools/benchmarks/train_memory.py --models cpu_teacher cpu_distiller

CPU configs (``cpu_teacher``, ``cpu_camera_baseline``, ``cpu_distiller``): mmengine's Runner
trains one iteration from the config as it stands -- its pipeline, its dataloader with its
default workers (2, persistent) and batch size (2), AdamW -- on the synthetic v1.0-mini in
``--data-root`` (``tools/create_synthetic_nuscenes.py``). Paper configs (``paper_teacher``: the
Swin-T + voxel BEVFusion teacher with the TransFusion head that SimDistill distils;
``paper_student``: the Swin-T student; ``paper_distiller``): one ``train_step`` (data
preprocessor with voxelisation, forward, backward, AdamW step, in float32) at batch 1 on a
synthetic batch at the paper's sizes: six 256 x 704 images and a 10-sweep point cloud of a
32-beam LiDAR (34,688 points a sweep, 346,880 in all: ground rings out to where a beam meets a
wall 5-60 m away, 0.5 m of ego motion between sweeps; 7 MB, also handed to the camera-only
student, which ignores them), 40 boxes. The paper's data pipeline is not run (it expects
full-size nuScenes images). Weights are random (memory does not depend on their
values): no image pre-training is loaded and each distiller's teacher checkpoint is its randomly
initialised teacher, saved to a temporary file.

Each model runs in a fresh process, one after the other. Measured: ``peak_rss`` (the process's
``ru_maxrss``, the kernel's high-water mark, imports, model build and step included), ``imports``
(the same right after importing torch + mmdet3d + simdistill), ``workers_peak_rss`` (the largest
dataloader worker's ``ru_maxrss``, which counts the pages it shares with the main process since
the fork) and ``peak_total_pss`` (the peak over 50 ms samples of the
summed proportional set size of the process and its workers: pages shared after ``fork`` are
split between them, so the sum is what the machine holds). Prints a table and writes
``tools/benchmarks/results/train_memory.json`` (atomically); rows of models not measured in
this invocation are kept from that file.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'cpu_teacher': 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py',
    'cpu_camera_baseline': 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py',
    'cpu_distiller':
    'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py',
    'paper_teacher':
    'configs/bevfusion/bevfusion_lidar-cam_swint-voxel0075-transfusion_8xb4-cyclic-20e_nus-3d.py',
    'paper_student': 'configs/simdistill/simdistill-student_swint_8xb4-cyclic-20e_nus-3d.py',
    'paper_distiller': 'configs/simdistill/simdistill_swint_8xb3-acc2-cyclic-20e_nus-3d.py',
}
MIB = 1024 * 1024
LIDAR_BEAMS, LIDAR_AZIMUTHS, LIDAR_SWEEPS, LIDAR_HEIGHT = 32, 1084, 10, 1.84
NUM_BOXES = 40


# --------------------------------------------------------------------------------------------
# measuring (in the child process)
# --------------------------------------------------------------------------------------------
def proportional_set_size(pid: int) -> int:
    """PSS of a process in bytes (0 if it is gone)."""
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child_pids() -> list:
    pids = []
    for task in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{task}/children') as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


class TreePssSampler(threading.Thread):
    """Samples the summed PSS of this process and its children every ``interval_s``."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total = sum(proportional_set_size(p) for p in [os.getpid(), *child_pids()])
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval_s)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def max_rss(who=resource.RUSAGE_SELF) -> int:
    return resource.getrusage(who).ru_maxrss * 1024  # KiB on Linux


def without_image_pretrain(model_cfg):
    """Random image backbone and neck (no file, no download), the student's included."""
    for cfg in (model_cfg, model_cfg.get('student') or {}):
        for part in ('img_backbone', 'img_neck'):
            if cfg.get(part) is not None:
                cfg[part]['init_cfg'] = None
    return model_cfg


def random_teacher_checkpoint(teacher_config: str, out_dir: str) -> str:
    """A distiller's teacher, randomly initialised, saved as its ``teacher_ckpt``."""
    import torch
    from mmengine.config import Config
    from mmdet3d.registry import MODELS
    teacher = MODELS.build(without_image_pretrain(Config.fromfile(teacher_config).model))
    teacher.init_weights()
    path = osp.join(out_dir, 'teacher.pth')
    torch.save({'state_dict': teacher.state_dict()}, path)
    del teacher
    return path


def load_cfg(name: str, work_dir: str):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[name]))
    without_image_pretrain(cfg.model)
    if cfg.model.type == 'SimDistill':
        cfg.model.teacher_ckpt = random_teacher_checkpoint(cfg.model.teacher, work_dir)
    return cfg


def cpu_config_step(name: str, data_root: str, work_dir: str) -> None:
    """One iteration of mmengine's Runner with the config's own dataloader and workers."""
    from mmengine.runner import Runner
    cfg = load_cfg(name, work_dir)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=10**9)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.log_processor.by_epoch = False
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False,
                                        by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    del runner  # persistent workers exit (and are reaped) here


def lidar_sweeps(rng):
    """``(P, 5)`` float32 points (x, y, z, intensity, time lag) of a 32-beam LiDAR: each beam
    meets the ground plane 1.84 m down or a wall 5-60 m away, whichever is nearer
    (horizontally); 0.5 m of ego motion and 0.05 s between sweeps. Points beyond 60 m are kept (the range filter drops them)."""
    import numpy as np
    elevation = np.radians(np.linspace(-30.67, 10.67, LIDAR_BEAMS))[:, None]
    azimuth = np.linspace(-np.pi, np.pi, LIDAR_AZIMUTHS, endpoint=False)[None, :]
    sweeps = []
    for sweep in range(LIDAR_SWEEPS):
        wall = rng.uniform(5.0, 60.0, (LIDAR_BEAMS, LIDAR_AZIMUTHS))
        ground = np.where(elevation < 0, LIDAR_HEIGHT / np.tan(np.maximum(-elevation, 1e-6)),
                          np.inf)
        horizontal = np.minimum(wall, ground)  # metres from the sensor's axis
        xyz = np.stack([horizontal * np.cos(azimuth), horizontal * np.sin(azimuth),
                        horizontal * np.tan(elevation)], axis=-1).reshape(-1, 3)
        xyz[:, 0] -= 0.5 * sweep
        extra = np.c_[rng.uniform(0, 255, len(xyz)), np.full(len(xyz), 0.05 * sweep)]
        sweeps.append(np.c_[xyz, extra])
    return np.concatenate(sweeps).astype(np.float32)


def paper_batch(view_transform, rng):
    """The model-input dict of one sample at the paper's sizes (see the module docstring)."""
    import numpy as np
    import torch
    from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
    from mmengine.structures import InstanceData
    from student_latency import camera_metas
    H, W = view_transform.image_size
    meta = dict(camera_metas(view_transform), box_type_3d=LiDARInstance3DBoxes,
                img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W), num_views=6)
    sample = Det3DDataSample(metainfo=meta)
    boxes = np.c_[rng.uniform(-50, 50, (NUM_BOXES, 2)), np.full(NUM_BOXES, -1.5),
                  rng.uniform(0.5, 5.0, (NUM_BOXES, 3)), rng.uniform(-np.pi, np.pi, NUM_BOXES),
                  rng.uniform(-5, 5, (NUM_BOXES, 2))]
    sample.gt_instances_3d = InstanceData(
        bboxes_3d=LiDARInstance3DBoxes(torch.as_tensor(boxes, dtype=torch.float32), box_dim=9),
        labels_3d=torch.as_tensor(rng.integers(0, 10, NUM_BOXES)))
    inputs = dict(img=[torch.randint(0, 256, (6, 3, H, W)).float()],
                  points=[torch.from_numpy(lidar_sweeps(rng))])
    return dict(inputs=inputs, data_samples=[sample])


def paper_train_step_setup(name: str, work_dir: str) -> tuple:
    """``(model, optim_wrapper, batch)`` of one paper-size ``train_step`` at batch 1 in float32
    (the configs' AMP needs a GPU): the model in train mode, the config's optimizer without
    accumulation or loss scaling, a random paper-size batch."""
    import numpy as np
    from mmengine.optim import build_optim_wrapper
    from mmdet3d.registry import MODELS
    cfg = load_cfg(name, work_dir)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim = dict(cfg.optim_wrapper, type='OptimWrapper', accumulative_counts=1)
    for key in ('loss_scale', 'on_non_finite'):  # AMP's and the non-finite guard's
        optim.pop(key, None)
    optim_wrapper = build_optim_wrapper(model, optim)
    camera_model = model.student if hasattr(model, 'student') else model
    return model, optim_wrapper, paper_batch(camera_model.view_transform,
                                             np.random.default_rng(0))


def paper_config_step(name: str, work_dir: str) -> dict:
    """One ``train_step`` at batch 1 in float32 (the configs' AMP needs a GPU)."""
    model, optim_wrapper, batch = paper_train_step_setup(name, work_dir)
    losses = model.train_step(batch, optim_wrapper)
    return dict(points=int(len(batch['inputs']['points'][0])),
                loss=float(sum(v for k, v in losses.items() if k == 'loss')))


def measure(name: str, data_root: str) -> dict:
    """Runs in the child process."""
    import torch
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    import mmdet3d.models  # noqa: F401
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    imports = max_rss()
    sampler = TreePssSampler()
    sampler.start()
    start = time.perf_counter()
    extra = {}
    with tempfile.TemporaryDirectory(prefix='train_memory_') as work_dir:
        if name.startswith('cpu_'):
            cpu_config_step(name, data_root, work_dir)
        else:
            extra = paper_config_step(name, work_dir)
    peak_pss = sampler.stop()
    row = dict(model=name, config=CONFIGS[name], wall_s=time.perf_counter() - start,
               imports_mib=imports / MIB, peak_rss_mib=max_rss() / MIB,
               peak_total_pss_mib=peak_pss / MIB, **extra)
    if name.startswith('cpu_'):  # the paper step has no workers (other children would count)
        row['workers_peak_rss_mib'] = max_rss(resource.RUSAGE_CHILDREN) / MIB
    return row


# --------------------------------------------------------------------------------------------
# the parent: one fresh process per model, a guard against swapping the machine to death
# --------------------------------------------------------------------------------------------
def tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and its children (an upper bound: shared pages count twice)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f'/proc/{p}/statm') as f:
                total += int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
            for task in os.listdir(f'/proc/{p}/task'):
                with open(f'/proc/{p}/task/{task}/children') as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def run_child(name: str, data_root: str, limit_gib: float) -> dict:
    """Measures ``name`` in a fresh process; kills it past ``limit_gib`` of RSS (reported)."""
    proc = subprocess.Popen([sys.executable, __file__, '--child', name, '--data-root',
                             data_root], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED='1'))
    out = []
    reader = threading.Thread(target=lambda: out.append(proc.communicate()), daemon=True)
    reader.start()
    seen = 0
    while reader.is_alive():
        seen = max(seen, tree_rss(proc.pid))
        if seen > limit_gib * 1024 * MIB:
            proc.kill()
            reader.join()
            return dict(model=name, config=CONFIGS[name], error=f'killed above {limit_gib} GiB')
        reader.join(0.2)
    stdout, stderr = out[0]
    if proc.returncode != 0:
        return dict(model=name, config=CONFIGS[name],
                    error=f'exit {proc.returncode}: {stderr.strip()[-1500:]}')
    return json.loads(stdout.strip().splitlines()[-1])


def fmt(row: dict, key: str) -> str:
    value = row.get(key)
    return '' if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f'{value:.0f}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--data-root', default='data/nuscenes/',
                        help='synthetic nuScenes of the CPU configs')
    parser.add_argument('--limit-gib', type=float, default=16.0,
                        help='a model whose processes pass this much RSS is killed')
    parser.add_argument('--out', default=osp.join(ROOT, 'tools/benchmarks/results/'
                                                        'train_memory.json'))
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data_root)))
        return
    sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
    from simdistill.utils.atomic import write_json_atomic
    kept = []
    if osp.isfile(args.out):
        with open(args.out) as f:
            kept = [r for r in json.load(f)['rows'] if r['model'] not in args.models]
    rows = []
    for name in args.models:
        print(f'[train_memory] {name} ...', flush=True)
        rows.append(run_child(name, args.data_root, args.limit_gib))
        if 'error' in rows[-1]:
            print(f'  failed: {rows[-1]["error"]}', flush=True)
    rows = sorted(kept + rows, key=lambda r: list(CONFIGS).index(r['model']))
    print('\n| model | peak RSS MiB | after imports MiB | largest worker MiB | '
          'peak total PSS MiB | build + step wall s |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        print(f'| {row["model"]} | {fmt(row, "peak_rss_mib")} | {fmt(row, "imports_mib")} | '
              f'{fmt(row, "workers_peak_rss_mib")} | {fmt(row, "peak_total_pss_mib")} | '
              f'{fmt(row, "wall_s")} |')
    import torch
    result = dict(benchmark='train_memory', device='cpu', threads=torch.get_num_threads(),
                  machine=platform.processor() or platform.machine(),
                  cpu_count=os.cpu_count(), rows=rows)
    write_json_atomic(args.out, result)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
