"""tools/benchmarks/recipes.py: the one place the benchmark and the main job read their configs,
recipes, schedule stretch and evaluation options from (the main job calls its command line)."""
import os.path as osp
import subprocess
import sys

from mmengine.config import Config

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import recipes  # noqa: E402


def cli(*args):
    done = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmarks', 'recipes.py'),
                           *args], capture_output=True, text=True, cwd=ROOT)
    return done.returncode, done.stdout.split(), done.stderr


def test_the_schedule_stretches_the_configs_cosine_to_the_epochs():
    code, options, _ = cli('schedule', '8')
    assert code == 0 and options == ['train_cfg.max_epochs=8', 'train_cfg.val_interval=9',
                                     'param_scheduler.1.T_max=8', 'param_scheduler.1.end=8']
    # what the options address: the config's second scheduler is the cosine that the stretch
    # must end with the training
    cfg = recipes.resolved_config(recipes.BASELINE, options)
    assert cfg.param_scheduler[1].type == 'CosineAnnealingLR'
    assert (cfg.param_scheduler[1].end, cfg.param_scheduler[1].T_max,
            cfg.train_cfg.max_epochs) == (8, 8, 8)


def test_evaluation_and_recipe_options_address_the_camera_model():
    code, options, _ = cli('test', recipes.DISTILLER)
    assert code == 0 and options == ['model.student.bbox_head.test_cfg.score_threshold=0.001']
    code, options, _ = cli('test', recipes.STUDENT)
    assert options == ['model.bbox_head.test_cfg.score_threshold=0.001']
    cfg = recipes.resolved_config(recipes.DISTILLER, cli('camera', recipes.DISTILLER)[1])
    assert cfg.model.student.img_backbone.frozen_stages == 4
    assert cfg.model.student.img_backbone.norm_eval is True


def test_config_names_resolve_to_the_configs_and_bad_input_is_named():
    for name, path in recipes.CONFIGS.items():
        code, out, _ = cli('config', name)
        assert code == 0 and out == [path] and Config.fromfile(osp.join(ROOT, path))
    code, _, err = cli('config', 'teacherr')
    assert code == 1 and "no config named 'teacherr'" in err
    code, _, err = cli('schedule', '0')
    assert code == 1 and "EPOCHS must be a positive integer, got '0'" in err
    code, _, err = cli('camera', 'configs/missing.py')
    assert code == 1 and 'no config configs/missing.py' in err
