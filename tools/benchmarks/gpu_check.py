"""Everything a GPU machine should confirm, in one call of at most 8 minutes.

    PYTHONPATH=projects/SimDistill python3 tools/benchmarks/gpu_check.py
    PYTHONPATH=projects/SimDistill python3 tools/benchmarks/gpu_check.py --dry-run --out x.json

Steps, in order, each in its own process with its own time limit (a step that fails or times
out is recorded and the next one runs; a step that cannot finish before the overall deadline is
skipped and recorded as such):

1. ``cuda_tests``: pytest on the tests marked ``cuda`` (the BEV pool's CUDA kernels).
2. ``bev_pool``: the BEV pool benchmark at nuScenes size (``bev_pool.run_size``, cached plan):
   fused, interval and materialise + ``index_add_``, float32 and float16, forward and
   forward + backward, with the copy bandwidth (``bev_pool.copy_bandwidth``) for the floor.
3. ``latency``: forward latency and peak memory at paper size of the teacher, the camera
   baseline and the student (``student_latency.measure``), batch 1.
4. ``train_step``: one paper-size distiller ``train_step`` with AMP (``AmpOptimWrapper``,
   float16) at batch 1 on ``train_memory.paper_batch``'s synthetic sample, after one warm-up
   step; its time and peak CUDA memory.

Writes ``tools/benchmarks/results/gpu_check.json`` (atomically) with ``device: "cuda"``, the
card, each step's status and numbers, and ``targets`` (``{target, value, met}``): the fused
kernel >= 5x the interval kernel, the fused kernel within 3x of the memory floor (forward and
forward + backward, float32), and the student <= 1.10x the baseline's latency.

Without CUDA (or with ``--dry-run``) nothing is measured: the plan is printed with each step
resolved to the function it would call, and the JSON (``device: "cpu-dry-run"``) carries the
plan and the targets without values.
"""
import argparse
import importlib
import json
import os
import os.path as osp
import platform
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
DEFAULT_OUT = osp.join(ROOT, 'tools', 'benchmarks', 'results', 'gpu_check.json')
BUDGET_S = 480  # the whole check, 8 minutes
LATENCY_VARIANTS = ('baseline', 'student', 'teacher')
STUDENT_TARGET = 1.10
INTERVAL_TARGET = 5.0
FLOOR_TARGET = 3.0


# --- the steps (each runs in a child process: `gpu_check.py --step NAME`) ----------------------

CUDA_TEST_FILES = ('tests/test_ops/test_bev_pool.py',
                   'tests/test_ops/test_deformable_attention.py')


def step_cuda_tests() -> dict:
    out = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-m', 'cuda', '-p',
                          'no:cacheprovider', *CUDA_TEST_FILES], cwd=ROOT, capture_output=True,
                         text=True)
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''
    return dict(returncode=out.returncode, summary=tail, output_tail=out.stdout[-3000:])


def step_bev_pool() -> dict:
    import torch
    import bev_pool
    from simdistill.ops.bev_pool import get_backend
    device = torch.device('cuda')
    backend = get_backend(device).name  # builds the kernels before any timing
    copy_bps = bev_pool.copy_bandwidth(device, 5)
    report = dict(device='cuda', backend=backend, copy_GBps=copy_bps / 1e9, sizes={})
    for dtype in (torch.float32, torch.float16):
        name = f"nuscenes-{str(dtype).split('.')[-1]}"
        report['sizes'][name] = bev_pool.run_size(
            bev_pool.SIZES['nuscenes'], device, ['fused', 'interval', 'materialize+index_add'],
            ['forward', 'forward+backward'], ['cached'], warmup=2, repeats=5, inner=10,
            copy_bps=copy_bps, dtype=dtype)
    return report


def step_latency() -> dict:
    import student_latency
    return dict(rows=[student_latency.child(['latency', 'paper', variant, '5', 'cuda'])
                      for variant in LATENCY_VARIANTS])


def step_train_step() -> dict:
    import numpy as np
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    import simdistill  # noqa: F401
    from mmdet3d.registry import MODELS
    from train_memory import load_cfg, paper_batch
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix='gpu_check_') as work_dir:
        cfg = load_cfg('paper_distiller', work_dir)
        model = MODELS.build(cfg.model)
        model.init_weights()
    model.cuda().train()
    optim = dict(cfg.optim_wrapper, type='AmpOptimWrapper', dtype='float16',
                 accumulative_counts=1)
    optim_wrapper = build_optim_wrapper(model, optim)
    batch = paper_batch(model.student.view_transform, np.random.default_rng(0))
    model.train_step(batch, optim_wrapper)  # warm-up: cuDNN autotuning, allocator, plans
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return dict(model='paper_distiller', amp='float16', batch=1, step_s=sorted(times)[1],
                times_s=times, peak_cuda_mib=torch.cuda.max_memory_allocated() / 2**20,
                loss=float(losses['loss']))


STEPS: Dict[str, Callable[[], dict]] = {
    'cuda_tests': step_cuda_tests,
    'bev_pool': step_bev_pool,
    'latency': step_latency,
    'train_step': step_train_step,
}
TIMEOUTS_S = {'cuda_tests': 120, 'bev_pool': 120, 'latency': 120, 'train_step': 120}
# what each step calls, for the dry run (checked to resolve by the CPU test)
CALLS = {
    'cuda_tests': ['pytest -m cuda ' + ' '.join(CUDA_TEST_FILES)],
    'bev_pool': ['bev_pool.copy_bandwidth', 'bev_pool.run_size', 'bev_pool.SIZES'],
    'latency': ['student_latency.child', 'student_latency.measure'],
    'train_step': ['train_memory.load_cfg', 'train_memory.paper_batch',
                   'mmengine.optim.AmpOptimWrapper'],
}


def resolve(call: str) -> str:
    """``module.attr`` -> the qualified name of what it is (raises if it does not exist)."""
    if ' ' in call:  # a command line
        return call
    module, _, attr = call.rpartition('.')
    obj = getattr(importlib.import_module(module), attr)
    return f"{getattr(obj, '__module__', module)}.{getattr(obj, '__qualname__', attr)}"


# --- targets ------------------------------------------------------------------------------------

def targets(results: Dict[str, dict]) -> List[dict]:
    """The issue's targets from the measured steps (None where a step did not run)."""
    out = []
    bev = (results.get('bev_pool') or {}).get('sizes', {}).get('nuscenes-float32')
    times = {(r['impl'], r['mode']): r for r in bev['results']} if bev else {}
    for mode in ('forward', 'forward+backward'):
        fused, interval = times.get(('fused', mode)), times.get(('interval', mode))
        ratio = interval['median_s'] / fused['median_s'] if fused and interval else None
        out.append(dict(target=f'BEV pool float32 {mode}: fused >= {INTERVAL_TARGET:g}x faster '
                        'than interval', value=ratio,
                        met=None if ratio is None else ratio >= INTERVAL_TARGET))
        floor = fused['x_floor'] if fused else None
        out.append(dict(target=f'BEV pool float32 {mode}: fused within {FLOOR_TARGET:g}x of the '
                        'memory floor', value=floor,
                        met=None if floor is None else floor <= FLOOR_TARGET))
    rows = {r['variant']: r for r in (results.get('latency') or {}).get('rows', [])}
    ratio = (rows['student']['median_ms'] / rows['baseline']['median_ms']
             if 'student' in rows and 'baseline' in rows else None)
    out.append(dict(target=f'paper size: student latency <= {STUDENT_TARGET:.2f}x baseline',
                    value=ratio, met=None if ratio is None else ratio <= STUDENT_TARGET))
    return out


# --- the driver --------------------------------------------------------------------------------

def run_step(name: str, timeout_s: float) -> dict:
    """Runs one step in a fresh process group; its result, or why there is none. On timeout
    the whole group is killed (a step's own children too: they hold the GPU)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, __file__, '--step', name], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return dict(status='timeout', timeout_s=timeout_s)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        return dict(status='failed', wall_s=wall, error=stderr.strip()[-2000:])
    return dict(status='ok', wall_s=wall, result=json.loads(stdout.strip().splitlines()[-1]))


def write_json(path: str, report: dict) -> None:
    from simdistill.utils.atomic import write_json_atomic
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_json_atomic(path, report)


def dry_run(out: str, why: str) -> dict:
    print(f'[gpu_check] dry run ({why}): nothing is measured. Plan, {BUDGET_S} s in all:')
    plan = []
    for name in STEPS:
        calls = [resolve(c) for c in CALLS[name]]
        plan.append(dict(step=name, timeout_s=TIMEOUTS_S[name], calls=calls))
        print(f'  {name:11s} (<= {TIMEOUTS_S[name]} s): ' + ', '.join(calls))
    report = dict(check='gpu_check', device='cpu-dry-run', reason=why, budget_s=BUDGET_S,
                  plan=plan, targets=targets({}))
    write_json(out, report)
    print(f'[gpu_check] wrote {out}')
    return report


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--dry-run', action='store_true', help='plan only, even with CUDA')
    parser.add_argument('--steps', nargs='+', default=list(STEPS), choices=list(STEPS))
    parser.add_argument('--step', choices=list(STEPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:  # the child
        print(json.dumps(STEPS[args.step]()))
        return {}
    import torch
    if args.dry_run or not torch.cuda.is_available():
        return dry_run(args.out, '--dry-run' if args.dry_run else 'no CUDA device')
    deadline = time.monotonic() + BUDGET_S
    report = dict(check='gpu_check', device='cuda', card=torch.cuda.get_device_name(0),
                  torch=torch.__version__, cuda=torch.version.cuda, budget_s=BUDGET_S,
                  host=platform.node(), steps={})
    results = {}
    for name in args.steps:
        left = deadline - time.monotonic()
        if left < 30:
            report['steps'][name] = dict(status='skipped', why=f'{left:.0f} s left')
            continue
        print(f'[gpu_check] {name} (<= {min(TIMEOUTS_S[name], left):.0f} s) ...', flush=True)
        report['steps'][name] = step = run_step(name, min(TIMEOUTS_S[name], left))
        print(f"[gpu_check] {name}: {step['status']}", flush=True)
        if step['status'] == 'ok':
            results[name] = step['result']
        write_json(args.out, dict(report, targets=targets(results)))  # partial results survive
    report['targets'] = targets(results)
    for t in report['targets']:
        value = 'n/a' if t['value'] is None else f"{t['value']:.2f}"
        met = {True: 'met', False: 'NOT met', None: 'n/a'}[t['met']]
        print(f"target: {t['target']}: {value} ({met})")
    write_json(args.out, report)
    print(f'[gpu_check] wrote {args.out}')
    return report


if __name__ == '__main__':
    main()
