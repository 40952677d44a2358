"""Latency of the deployed student: PyTorch vs onnxruntime, batch 1, on CPU.

    python tools/benchmarks/student_onnx.py                     # CPU size and paper size
    python tools/benchmarks/student_onnx.py --sizes cpu --repeats 50

For each size the SimDistill student is built from its config with random weights (time does
not depend on the values), exported with ``simdistill.deployment.export_onnx`` and run on six
random images with a nuScenes camera rig (``student_latency.camera_metas``) up to the head's raw
maps, box decoding and NMS excluded: in PyTorch its own ``eval()`` forward under ``no_grad``
(BEV pool: the compiled kernel, plan cached), in onnxruntime the exported graph (plan inputs
computed once, as a car with a fixed rig would), twice: the stock graph (pool as Gather +
ScatterElements, deformable attention as GridSample) and the graph with SimDistill's custom
nodes (``export_onnx(custom_ops=True)``, the library and session options of
``simdistill.deployment.onnxruntime_ops``). Median of ``--repeats`` runs after one warm-up,
all in one process, so the ratios are comparable. Prints a table and writes
``tools/benchmarks/results/student_onnx.json`` (atomically).
"""
import argparse
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from student_latency import ROOT, build_for_timing  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(size: str, repeats: int) -> dict:
    import onnxruntime as ort
    import torch
    from simdistill.deployment import OPSET, export_onnx, plan_inputs
    from simdistill.deployment.onnxruntime_ops import session_options
    model, inputs, samples = build_for_timing(size, 'student')
    imgs = inputs['imgs']
    H, W = model.view_transform.image_size
    cameras = model.images_and_cameras({'imgs': imgs}, [s.metainfo for s in samples])[1]
    sessions, export_s, size_mib = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for graph, custom_ops in (('stock', False), ('custom_ops', True)):
            path = osp.join(tmp, f'student_{graph}.onnx')
            start = time.perf_counter()
            export_onnx(model, imgs, cameras, path, custom_ops=custom_ops)
            export_s[graph] = time.perf_counter() - start
            size_mib[graph] = os.path.getsize(path) / 2**20
            sessions[graph] = ort.InferenceSession(path, session_options(custom_ops),
                                                   providers=['CPUExecutionProvider'])
    feeds = {'imgs': imgs.numpy(),
             **{k: v.numpy() for k, v in plan_inputs(model, cameras).items()}}
    with torch.no_grad():
        torch_ms = median_ms(lambda: model._forward(inputs, samples), repeats)
    ort_ms = {graph: median_ms(lambda: session.run(None, feeds), repeats)
              for graph, session in sessions.items()}
    return dict(size=size, image_size=[H, W], bev_shape=list(model.view_transform.bev_shape),
                opset=OPSET, onnx_mib=size_mib['stock'], export_s=export_s['stock'],
                repeats=repeats, pytorch_median_ms=torch_ms,
                onnxruntime_median_ms=ort_ms['stock'],
                onnxruntime_to_pytorch=ort_ms['stock'] / torch_ms,
                custom_ops_onnx_mib=size_mib['custom_ops'],
                custom_ops_export_s=export_s['custom_ops'],
                onnxruntime_custom_ops_median_ms=ort_ms['custom_ops'],
                onnxruntime_custom_ops_to_pytorch=ort_ms['custom_ops'] / torch_ms,
                plan_points=int(feeds['ranks_bev'].size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['cpu', 'paper'], choices=['cpu', 'paper'])
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--paper-repeats', type=int, default=5)
    parser.add_argument('--out', default=osp.join(ROOT, 'tools/benchmarks/results/'
                                                        'student_onnx.json'))
    args = parser.parse_args()
    sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
    import onnxruntime
    import torch
    from simdistill.utils.atomic import write_json_atomic
    rows = []
    for size in args.sizes:
        print(f'[student_onnx] {size} ...', flush=True)
        rows.append(measure(size, args.paper_repeats if size == 'paper' else args.repeats))
    print('\n| size | input | PyTorch ms | onnxruntime ms, stock graph | ratio | '
          'onnxruntime ms, custom ops | ratio | graph MiB | export s |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["size"]} | 6 x {r["image_size"][0]}x{r["image_size"][1]} | '
              f'{r["pytorch_median_ms"]:.0f} | {r["onnxruntime_median_ms"]:.0f} | '
              f'{r["onnxruntime_to_pytorch"]:.2f} | '
              f'{r["onnxruntime_custom_ops_median_ms"]:.0f} | '
              f'{r["onnxruntime_custom_ops_to_pytorch"]:.2f} | {r["onnx_mib"]:.0f} | '
              f'{r["export_s"]:.0f} |')
    result = dict(benchmark='student_onnx', batch=1, device='cpu',
                  torch_threads=torch.get_num_threads(), onnxruntime=onnxruntime.__version__,
                  machine=platform.processor() or platform.machine(), rows=rows)
    write_json_atomic(args.out, result)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
