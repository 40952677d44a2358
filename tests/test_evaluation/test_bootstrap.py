"""Bootstrap intervals: a hand-worked resampling distribution, and the scene bootstrap's devkit
metrics against the devkit's own ``DetectionEval`` on the full set and on a subset of scenes."""
import json
import os
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from simdistill.evaluation.bootstrap import (SceneBootstrap, bootstrap_replicates,
                                             percentile_interval, seed_and_scene_replicates)


def test_resampling_three_units_gives_the_hand_worked_distribution_of_the_mean():
    """Means of 3 draws with replacement from {1, 2, 3}: 27 equally likely resamples whose sum
    is 3..9 in 1, 3, 6, 7, 6, 3, 1 ways."""
    units = np.array([1.0, 2.0, 3.0])
    means = bootstrap_replicates(3, lambda idx: units[idx].mean(), replicates=27000, seed=0)
    counts = Counter(int(round(3 * m)) for m in means)
    expected = {3: 1, 4: 3, 5: 6, 6: 7, 7: 6, 8: 3, 9: 1}
    for total, ways in expected.items():
        assert abs(counts[total] / 27000 - ways / 27) < 0.006, (total, counts[total])
    # 1/27 = 3.7 % of the mass sits at each end: both 2.5 % tails end on the extremes
    assert percentile_interval(means) == [1.0, 3.0]


def test_percentile_interval_takes_replicate_values():
    values = np.arange(1, 101, dtype=float)
    assert percentile_interval(values, level=0.9) == [5.0, 95.0]
    assert percentile_interval(np.append(values, np.nan), level=0.9) == [5.0, 95.0]


# ---------------------------------------------------------------------------------------------
# scene bootstrap vs the devkit
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def detection_eval(synthetic_nuscenes_root, tmp_path_factory):
    """The devkit's DetectionEval of noisy copies of the mini_train ground truth (some missed,
    some duplicated, plus false positives, scores with ties) on the synthetic release."""
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.common.loaders import load_gt
    from nuscenes.eval.detection.data_classes import DetectionBox
    from nuscenes.eval.detection.evaluate import DetectionEval
    nusc = NuScenes('v1.0-mini', str(synthetic_nuscenes_root), verbose=False)
    gt = load_gt(nusc, 'mini_train', DetectionBox, verbose=False)
    rng = np.random.default_rng(0)
    classes = sorted({b.detection_name for b in gt.all})
    results = {}
    for token in gt.sample_tokens:
        boxes = []
        for box in gt[token]:
            for _ in range(rng.integers(0, 3)):  # missed, found, or found twice
                xyz = np.asarray(box.translation) + rng.normal(0, 0.8, 3)
                boxes.append(dict(
                    sample_token=token, translation=xyz.tolist(),
                    size=(np.asarray(box.size) * rng.uniform(0.8, 1.2, 3)).tolist(),
                    rotation=list(box.rotation), velocity=list(box.velocity),
                    detection_name=box.detection_name,
                    detection_score=float(np.round(rng.uniform(0, 1), 1)),  # ties
                    attribute_name=box.attribute_name))
        ego = nusc.get('ego_pose', nusc.get('sample_data', nusc.get(
            'sample', token)['data']['LIDAR_TOP'])['ego_pose_token'])['translation']
        for _ in range(5):
            boxes.append(dict(
                sample_token=token,
                translation=(np.asarray(ego) + [*rng.uniform(-30, 30, 2), 0]).tolist(),
                size=[2.0, 4.5, 1.6], rotation=[1.0, 0.0, 0.0, 0.0], velocity=[0.0, 0.0],
                detection_name=str(rng.choice(classes)),
                detection_score=float(np.round(rng.uniform(0, 1), 1)), attribute_name=''))
        results[token] = boxes
    path = tmp_path_factory.mktemp('bootstrap') / 'results.json'
    meta = dict(use_camera=True, use_lidar=False, use_radar=False, use_map=False,
                use_external=False)
    path.write_text(json.dumps(dict(meta=meta, results=results)))
    return DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path), 'mini_train',
                         str(path.parent / 'out'), verbose=False)


def devkit_metrics(detection_eval, gt=None, preds=None):
    """The devkit's own evaluate(), optionally on a subset of its boxes."""
    full = detection_eval.gt_boxes, detection_eval.pred_boxes
    if gt is not None:
        detection_eval.gt_boxes, detection_eval.pred_boxes = gt, preds
    try:
        metrics, _ = detection_eval.evaluate()
    finally:
        detection_eval.gt_boxes, detection_eval.pred_boxes = full
    return metrics


def assert_same_metrics(ours, metrics):
    assert ours['mAP'] == pytest.approx(metrics.mean_ap, abs=1e-12)
    assert ours['NDS'] == pytest.approx(metrics.nd_score, abs=1e-12)
    for name, ap in metrics.mean_dist_aps.items():
        assert ours[f'{name}_AP'] == pytest.approx(ap, abs=1e-12), name
    for name, err in metrics.tp_errors.items():
        assert ours[name] == pytest.approx(err, abs=1e-12, nan_ok=True), name


def test_every_scene_once_is_the_devkit_result(detection_eval):
    boot = SceneBootstrap(detection_eval)
    assert len(boot.scenes) == 8  # mini_train
    metrics = devkit_metrics(detection_eval)
    assert 0.1 < metrics.mean_ap < 0.9  # a case with both hits and misses
    assert_same_metrics(boot.metrics(), metrics)


def test_a_subset_of_scenes_is_the_devkit_result_on_those_scenes(detection_eval):
    from nuscenes.eval.common.data_classes import EvalBoxes
    boot = SceneBootstrap(detection_eval)
    chosen = [boot.scenes[i] for i in (1, 4, 6)]
    gt, preds = EvalBoxes(), EvalBoxes()
    nusc = detection_eval.nusc
    for token in detection_eval.gt_boxes.sample_tokens:
        if nusc.get('sample', token)['scene_token'] in chosen:
            gt.add_boxes(token, detection_eval.gt_boxes[token])
            preds.add_boxes(token, detection_eval.pred_boxes[token])
    assert_same_metrics(boot.metrics([1, 4, 6]), devkit_metrics(detection_eval, gt, preds))


def test_paired_replicates_share_scene_and_seed_draws(detection_eval):
    """The same evaluation as 'student' and 'baseline': every paired difference is 0, while
    each model's replicates vary (the scenes are resampled)."""
    boot = SceneBootstrap(detection_eval)
    reps = seed_and_scene_replicates({'student': [boot, boot], 'baseline': [boot, boot]},
                                     replicates=30, seed=1)
    assert np.array_equal(reps['student']['mAP'], reps['baseline']['mAP'])
    assert reps['student']['mAP'].std() > 0


class CountingEvaluation:
    """Stands in for a SceneBootstrap: a metric that is the mean scene index drawn, counted."""

    def __init__(self, offset):
        self.scenes, self.offset, self.calls = ['s0', 's1', 's2', 's3'], offset, 0

    def metrics(self, scene_indices):
        self.calls += 1
        value = self.offset + float(np.mean(scene_indices))
        return {'mAP': value, 'NDS': value, 'car_AP': value}


def test_a_models_replicates_depend_on_its_evaluations_alone_and_are_kept():
    a, b1, b2 = CountingEvaluation(0.0), CountingEvaluation(1.0), CountingEvaluation(2.0)
    cache = {}
    first = seed_and_scene_replicates({'a': [a], 'b': [b1, b2]}, replicates=50, cache=cache)
    calls = (a.calls, b1.calls, b2.calls)
    assert a.calls == 50
    # another model joins (a new seed count): a's and b's replicates are the same numbers, taken
    # from the cache without scoring again
    c = [CountingEvaluation(5.0) for _ in range(3)]
    second = seed_and_scene_replicates({'a': [a], 'b': [b1, b2], 'c': c}, replicates=50,
                                       cache=cache)
    assert (a.calls, b1.calls, b2.calls) == calls
    assert np.array_equal(first['b']['mAP'], second['b']['mAP'])
    uncached = seed_and_scene_replicates({'c': c, 'b': [b1, b2], 'a': [a]}, replicates=50)
    for name in ('a', 'b', 'c'):  # neither the cache nor the other models change the draws
        assert np.array_equal(uncached[name]['mAP'], second[name]['mAP'])
    # paired: a model with the same evaluations in the same seed slots has the same replicates
    twin = seed_and_scene_replicates({'b': [b1, b2], 'b2': [b1, b2]}, replicates=50)
    assert np.array_equal(twin['b']['mAP'], twin['b2']['mAP'])


def test_a_new_seed_scores_only_its_own_evaluation_and_the_store_outlives_the_process(tmp_path):
    """Each evaluation is scored once on the scene draws: a model's second seed costs that
    seed's scorings alone; a ReplicateStore brings an evaluation with a key back in another
    process (a new store on the same folder) with the same numbers and no scoring."""
    from simdistill.evaluation import ReplicateStore
    b1, b2 = CountingEvaluation(1.0), CountingEvaluation(2.0)
    b1.key, b2.key = 'b1', 'b2'
    store = ReplicateStore(str(tmp_path / 'store'))
    one = seed_and_scene_replicates({'b': [b1]}, replicates=40, cache=store)
    assert b1.calls == 40
    two = seed_and_scene_replicates({'b': [b1, b2]}, replicates=40, cache=store)
    assert (b1.calls, b2.calls) == (40, 40)
    assert np.array_equal(one['b']['mAP'], 1.0 + np.mean(  # b1's scores: offset + mean draw
        np.random.default_rng(0).integers(0, 4, (40, 4)), axis=1))
    assert sorted(os.listdir(tmp_path / 'store')) == [
        'b1-scenes4-seed0-r40-mAP+NDS+car_AP.npz', 'b2-scenes4-seed0-r40-mAP+NDS+car_AP.npz']
    fresh = [CountingEvaluation(1.0), CountingEvaluation(2.0)]
    fresh[0].key, fresh[1].key = 'b1', 'b2'
    again = seed_and_scene_replicates({'b': fresh}, replicates=40,
                                      cache=ReplicateStore(str(tmp_path / 'store')))
    assert [e.calls for e in fresh] == [0, 0]
    assert np.array_equal(again['b']['mAP'], two['b']['mAP'])
    # the same as scoring from scratch without any cache
    assert np.array_equal(seed_and_scene_replicates({'b': [CountingEvaluation(1.0),
                                                           CountingEvaluation(2.0)]},
                                                    replicates=40)['b']['mAP'],
                          two['b']['mAP'])
