"""The CPU configs and the training recipes measured on them, shared by the benchmark
(``distill_gain.py``) and the main job (``tools/run_pipeline.sh``).

    python tools/benchmarks/recipes.py camera CONFIG    # the camera recipe's --cfg-options
    python tools/benchmarks/recipes.py teacher CONFIG   # the fusion teacher's
    python tools/benchmarks/recipes.py test CONFIG      # the evaluation's (score threshold)
    python tools/benchmarks/recipes.py schedule EPOCHS  # the schedule stretched to EPOCHS
    python tools/benchmarks/recipes.py config NAME      # a config's path (CONFIGS' names)

prints one option (or the path) per line; the recipes' options are addressed to ``CONFIG``'s
camera model (``model``, or a distiller's ``model.student``). The recipes are the lever runs' findings (``distill_gain.py --levers``, seed
0, 4 epochs, 753-object test set): the configs themselves stay as they were, so the lever runs
and every finished benchmark run keep their meaning.
"""
import os.path as osp
import sys
from typing import List, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'
LIDAR_ONLY = 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'
BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
STUDENT = 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'
DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'
CONFIGS = dict(teacher=TEACHER, lidar_only=LIDAR_ONLY, baseline=BASELINE, student=STUDENT,
               distiller=DISTILLER)

# Every model is scored with the head's score threshold at 0.001 (the configs keep CenterPoint's
# 0.1): at 0.1 a camera model this weak keeps few boxes, and the devkit's AP counts the recall
# of its low-scored ones.
SCORE_THRESHOLD = 1e-3

# camera lever name -> extra --cfg-options of the camera baseline ('{pretrained}': the image
# pre-training file), each a short learning-curve run (--levers) that says whether the lever
# helps before the comparison's long runs use it; 'lever_reference' is the baseline unchanged.
LEVERS = {
    'lever_reference': [],
    # start the LSS depth net from the pre-training's depth head instead of discarding it
    'lever_depth_head_init': ['model.view_transform.init_cfg.type=Pretrained',
                              'model.view_transform.init_cfg.checkpoint={pretrained}',
                              'model.view_transform.init_cfg.prefix=view_transform.'],
    # the paper-size configs train the image backbone at 0.1x the learning rate
    'lever_backbone_lr_0.1': ['optim_wrapper.paramwise_cfg.custom_keys.img_backbone.lr_mult=0.1'],
    # the image backbone frozen as pre-trained (BN statistics too): no backward through it, so
    # cheaper steps; measured against the 0.1x run (its neck trains at the full rate)
    'lever_backbone_frozen': ['model.img_backbone.frozen_stages=4',
                              'model.img_backbone.norm_eval=True'],
}

# The camera recipe of every run with an image branch after the lever runs (the comparison, the
# ablations, the main job's baseline and student): the levers that measured a help. The image
# backbone at 0.1x the learning rate keeps its pre-training (mAP 0.0196 / NDS 0.128 / car AP 0.092
# / depth +-1 m 12.6 %, against 0.0006 / 0.051 / 0.003 / 7.3 % at the full rate); frozen as
# pre-trained it does better at both evaluated epochs and 15 % less time (0.0265 / 0.132 / 0.125 /
# 15.3 %; 640 s against 756 s of training). Starting the depth net from the pre-training's depth
# head sharpened depth (17.5 %) but slowed detection (0.0000 / 0.013), so it is not used.
CAMERA_RECIPE = list(LEVERS['lever_backbone_frozen'])
# The fusion teacher's camera branch: the benchmark's teacher was trained (once, reused by every
# run) with the recipe of its day, and the main job trains its teacher the same way.
TEACHER_RECIPE = list(LEVERS['lever_backbone_lr_0.1'])


def resolved_config(config: str, cfg_options: List[str]):
    """The config (bases merged) with the run's ``--cfg-options`` applied."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict({k: DictAction._parse_iterable(v)
                         for k, v in (o.split('=', 1) for o in cfg_options)})
    return cfg


def camera_model_key(config: str) -> str:
    """Where ``config``'s camera model sits: ``model``, or a distiller's ``model.student``."""
    return 'model.student' if 'student' in resolved_config(config, []).model else 'model'


def recipe_for(config: str, recipe: Sequence[str]) -> List[str]:
    """``recipe`` (options on a camera model's ``model.*``) for ``config``: a distiller's camera
    model is its ``model.student``."""
    prefix = camera_model_key(config)
    return [o.replace('model', prefix, 1) if o.startswith('model.') else o for o in recipe]


def test_options(config: str, score_threshold: float = SCORE_THRESHOLD) -> List[str]:
    """``--cfg-options`` of an evaluation: the head's score threshold (the student's head in a
    distiller config)."""
    return [f'{camera_model_key(config)}.bbox_head.test_cfg.score_threshold={score_threshold}']


def schedule(epochs: int, val_interval: int) -> List[str]:
    """``--cfg-options`` stretching a config's schedule (warm-up, then cosine to the end) to
    ``epochs``; ``val_interval > epochs`` validates never."""
    return [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={val_interval}',
            f'param_scheduler.1.T_max={epochs}', f'param_scheduler.1.end={epochs}']


RECIPES = {'camera': CAMERA_RECIPE, 'teacher': TEACHER_RECIPE}
USAGE = ('usage: recipes.py {camera,teacher,test} CONFIG | schedule EPOCHS | config '
         f'{{{",".join(CONFIGS)}}}')


def main(argv: Sequence[str]) -> None:
    if len(argv) != 2:
        sys.exit(USAGE)
    command, arg = argv
    if command == 'config':
        if arg not in CONFIGS:
            sys.exit(f'recipes.py: no config named {arg!r}; {USAGE}')
        print(CONFIGS[arg])
        return
    if command == 'schedule':
        if not arg.isdigit() or int(arg) < 1:
            sys.exit(f'recipes.py: EPOCHS must be a positive integer, got {arg!r}')
        print('\n'.join(schedule(int(arg), int(arg) + 1)))
        return
    if command not in RECIPES and command != 'test':
        sys.exit(USAGE)
    if not osp.isfile(osp.join(ROOT, arg)):
        sys.exit(f'recipes.py: no config {arg}')
    print('\n'.join(test_options(arg) if command == 'test' else
                     recipe_for(arg, RECIPES[command])))


if __name__ == '__main__':
    main(sys.argv[1:])
