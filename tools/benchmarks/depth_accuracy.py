"""Depth accuracy of a camera model's LSS on the test set, against the LiDAR.

    python tools/benchmarks/depth_accuracy.py CONFIG CHECKPOINT --out depth.json \
        [--cfg-options ...]

Of the image feature cells a LiDAR point falls in, the share whose most probable depth bin is
within 1 m and 3 m of the nearest point's depth (``simdistill.evaluation.depth_metric``), over
every sample of the config's test split; for a SimDistill student (or distiller) also of its
simulated-LiDAR branch. The points are loaded for the metric only: the model sees the images.
Prints a table and writes the numbers as JSON.
"""
import os.path as osp

from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch.utils.data import DataLoader

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS, MODELS
from simdistill.compat import apply_all
from simdistill.entrypoints.args import checkpoint_tool_parser
from simdistill.evaluation import evaluate_depth
from simdistill.utils.atomic import write_json_atomic


def with_points(cfg: Config) -> dict:
    """The config's test dataset, its pipeline also loading (and packing) the LiDAR points.

    The sweeps are the nearest ones (``test_mode=True``), as mmdet3d's nuScenes test pipelines
    load them: the training loader draws ``sweeps_num`` of the stored sweeps at random (3 of
    10 in the CPU configs), which made the metric a different draw in every run.
    """
    dataset = cfg.test_dataloader.dataset.copy()
    pipeline = [step for step in dataset.pipeline if step['type'] != 'Pack3DDetInputs']
    pack = next(step for step in dataset.pipeline if step['type'] == 'Pack3DDetInputs').copy()
    if 'points' not in pack['keys']:
        load_points = [dict(step, test_mode=True) if step['type'].endswith('MultiSweeps')
                       else step for step in cfg.load_points]
        pipeline = [*load_points, *pipeline, *cfg.points_filter]
        pack['keys'] = [*pack['keys'], 'points']
    dataset.pipeline = [*pipeline, pack]
    dataset.modality = dict(dataset.get('modality', {}), use_lidar=True)
    return dataset


def main() -> None:
    apply_all()  # mmengine's load_checkpoint reads weights-only with the allow-list
    parser = checkpoint_tool_parser(__doc__.splitlines()[0], 'JSON file to write')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    dataset = DATASETS.build(with_points(cfg))
    loader = DataLoader(dataset, batch_size=1, shuffle=False, collate_fn=pseudo_collate)
    result = evaluate_depth(model, loader)
    print(f'\n{osp.basename(args.config)}: ' + ', '.join(
        f'{k} {v:.4f}' if isinstance(v, float) else f'{k} {v}' for k, v in result.items()))
    write_json_atomic(args.out, result)


if __name__ == '__main__':
    main()
