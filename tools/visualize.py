"""Draws a detector's predictions: six camera views with boxes beside a BEV plot, per sample.

    python tools/visualize.py CONFIG CHECKPOINT --out-dir work_dirs/vis [--num-samples 4]

Writes ``<out-dir>/<sample_idx>.png`` for evenly spaced samples of the config's test set.
"""
import argparse
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import ProgressBar

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS, MODELS
from simdistill.compat import apply_all
from simdistill.visualization import save_prediction_figure


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--num-samples', type=int, default=4)
    parser.add_argument('--score-thr', type=float, default=0.3)
    return parser.parse_args()


def main():
    apply_all()  # mmengine's load_checkpoint reads weights-only with the allow-list
    args = parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    extent = float(cfg.get('point_cloud_range', [0, 0, 0, 54.0])[3])
    os.makedirs(args.out_dir, exist_ok=True)
    indices = np.linspace(0, len(dataset) - 1, min(args.num_samples, len(dataset))).astype(int)
    bar = ProgressBar(len(indices))
    for i in indices:
        data = dataset[int(i)]
        with torch.no_grad():
            result = model.test_step(pseudo_collate([data]))[0]
        ann = dataset.parse_ann_info(dataset.get_data_info(int(i)))
        meta = result.metainfo
        save_prediction_figure(
            osp.join(args.out_dir, f'{meta["sample_idx"]}.png'), data, meta,
            result.pred_instances_3d, ann['gt_bboxes_3d'], extent,
            f'{osp.basename(args.config)} - sample {meta["sample_idx"]}', args.score_thr)
        bar.update()
    print(f'\nwrote {len(indices)} figures to {args.out_dir}')


if __name__ == '__main__':
    main()
