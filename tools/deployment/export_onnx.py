"""Exports the deployable camera-only student (or the camera baseline) to ONNX.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out student.onnx
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out student.onnx --custom-ops

``CHECKPOINT`` holds the student's weights alone (``tools/model_converters/export_student.py``
writes them from a distiller checkpoint). The graph goes from six preprocessed images and the
BEV-pool plan of their cameras to the CenterHead's raw maps; opset 17, dynamic batch size (see
``simdistill.deployment``). One test sample (``--sample``) is traced, then run through
onnxruntime and PyTorch, and the largest difference of the raw maps is printed.

``--custom-ops`` writes the BEV pool and the GCM's deformable attention as ``simdistill::``
nodes, which onnxruntime runs from the library of ``simdistill.deployment.onnxruntime_ops``
(faster than PyTorch; ``infer_onnx.py`` registers it); without it the graph holds stock ops only
(portable to any runtime, 2-3x slower than PyTorch on CPU).
"""

import torch
from mmengine.dataset import pseudo_collate

import simdistill  # noqa: F401  (registers the modules)
from simdistill.compat import apply_all
from simdistill.deployment import (OPSET, DeployableCameraDetector, ONNXCameraDetector,
                                   export_onnx, head_output_names, plan_inputs)
from simdistill.deployment.loading import build_model_and_dataset, load_config
from simdistill.entrypoints.args import checkpoint_tool_parser


def main() -> None:
    apply_all()  # mmengine's load_checkpoint reads weights-only with the allow-list
    parser = checkpoint_tool_parser(__doc__.splitlines()[0], 'the .onnx file to write')
    parser.add_argument('--sample', type=int, default=0, help='test sample to trace with')
    parser.add_argument('--opset', type=int, default=OPSET)
    parser.add_argument('--custom-ops', action='store_true',
                        help='BEV pool and deformable attention as simdistill:: nodes')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    model, dataset = build_model_and_dataset(cfg, args.checkpoint)
    data = model.data_preprocessor(pseudo_collate([dataset[args.sample]]), False)
    imgs, cameras = model.images_and_cameras(data['inputs'],
                                             [s.metainfo for s in data['data_samples']])
    export_onnx(model, imgs, cameras, args.out, opset=args.opset, custom_ops=args.custom_ops)
    with torch.no_grad():
        expected = DeployableCameraDetector(model)(imgs, *plan_inputs(model, cameras).values())
    got = ONNXCameraDetector(args.out, model).run(imgs, cameras)
    worst = max(float((e - torch.from_numpy(g)).abs().max()) for e, g in zip(expected, got))
    names = head_output_names(model.bbox_head)
    print(f'wrote {args.out}: opset {args.opset}, inputs imgs {tuple(imgs.shape[1:])} (batch '
          f'dynamic) + the BEV-pool plan, {len(names)} head maps; onnxruntime vs PyTorch on '
          f'sample {args.sample}: max |difference| {worst:.2e}')


if __name__ == '__main__':
    main()
