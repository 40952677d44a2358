"""Runs an exported student in onnxruntime over the config's test set: devkit metrics, the
devkit-format results file and pictures, as ``tools/test.py`` and ``tools/visualize.py`` do.

    python tools/deployment/infer_onnx.py CONFIG student.onnx --work-dir work_dirs/onnx \
        [--num-show 4]

The config supplies the data, the camera geometry (the BEV-pool plan of every sample is built
from its own calibration, as in PyTorch) and the box decoding; its weights are not used. Writes
``<work-dir>/metrics.json``, ``<work-dir>/results/pred_instances_3d/results_nusc.json`` and
``<work-dir>/vis/<sample_idx>.png``.
"""
import argparse
import json
import os.path as osp

import numpy as np
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from mmengine.utils import ProgressBar

import simdistill  # noqa: F401  (registers the modules)
from simdistill.deployment import ONNXCameraDetector
from simdistill.deployment.loading import DictAction, build_model_and_dataset, load_config
from simdistill.utils.atomic import atomic_path
from simdistill.visualization import save_prediction_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('onnx')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--num-show', type=int, default=4, help='samples drawn (evenly spaced)')
    parser.add_argument('--score-thr', type=float, default=0.3, help='of the drawn boxes')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    model, dataset = build_model_and_dataset(cfg)
    detector = ONNXCameraDetector(args.onnx, model)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(
        dict(cfg.test_evaluator, jsonfile_prefix=osp.join(args.work_dir, 'results')))
    evaluator.dataset_meta = loader.dataset.metainfo
    shown = set(np.linspace(0, len(dataset) - 1, min(args.num_show, len(dataset))).astype(int))
    bar = ProgressBar(len(loader.dataset))
    index = 0
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        metas = [s.metainfo for s in data['data_samples']]
        imgs, cameras = model.images_and_cameras(data['inputs'], metas)
        samples = model.add_pred_to_datasample(data['data_samples'],
                                               detector.predict(imgs, cameras, metas))
        evaluator.process(samples, batch)
        for sample in samples:
            if index in shown:
                ann = dataset.parse_ann_info(dataset.get_data_info(index))
                save_prediction_figure(
                    osp.join(args.work_dir, 'vis', f'{sample.sample_idx}.png'),
                    dataset[index], sample.metainfo, sample.pred_instances_3d,
                    ann['gt_bboxes_3d'], float(cfg.point_cloud_range[3]),
                    f'{osp.basename(args.onnx)} (onnxruntime) - sample {sample.sample_idx}',
                    args.score_thr)
            index += 1
            bar.update()
    metrics = evaluator.evaluate(len(loader.dataset))
    with atomic_path(osp.join(args.work_dir, 'metrics.json')) as tmp:
        with open(tmp, 'w') as f:
            json.dump(metrics, f, indent=1)
    key = 'NuScenes metric/pred_instances_3d_NuScenes/'
    print(f'\nmAP {metrics[key + "mAP"]:.4f}  NDS {metrics[key + "NDS"]:.4f}  '
          f'(metrics.json, results and pictures in {args.work_dir})')


if __name__ == '__main__':
    main()
