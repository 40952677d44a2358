"""Scores a nuScenes detection results file with a config's evaluator (the devkit).

    python tools/evaluate_results.py CONFIG RESULTS_JSON \
        [--cfg-options test_evaluator.data_root=... test_evaluator.ann_file=...]

For a ``results_nusc.json`` written by ``tools/test.py`` (``--cfg-options
test_evaluator.jsonfile_prefix=DIR``), ``tools/deployment/infer_onnx.py`` or another codebase.
Prints mAP and NDS and writes ``metrics.json`` beside the file (the devkit adds
``metrics_summary.json``, ``metrics_details.json`` and ``plots/``). A file the devkit rejects
fails with a ``ResultsFileError`` naming the file, the sample, the box and the key (the config's
``test_evaluator`` must be ``CheckedNuScenesMetric``, as in every config of this project).
"""
import argparse
import json
import os.path as osp

from mmdet3d.registry import METRICS

import simdistill  # noqa: F401  (registers the modules)
from simdistill.deployment.loading import DictAction, load_config
from simdistill.utils.atomic import atomic_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='its test_evaluator and classes are used')
    parser.add_argument('results', help='a nuScenes detection results file (.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dict(classes=list(cfg.class_names), version=cfg.metainfo.version)
    metrics = metric.evaluate_results_file(args.results)
    with atomic_path(osp.join(osp.dirname(osp.abspath(args.results)), 'metrics.json')) as tmp:
        with open(tmp, 'w') as f:
            json.dump(metrics, f, indent=1)
    prefix = 'pred_instances_3d_NuScenes/'
    print(f'{args.results}: mAP {metrics[prefix + "mAP"]:.4f}  NDS {metrics[prefix + "NDS"]:.4f}')


if __name__ == '__main__':
    main()
