"""95 % intervals for devkit metrics: a bootstrap over test scenes (and over paired seeds).

A test set's objects come in scenes (every object is seen in many correlated frames), so the
unit of resampling is the scene, not the sample or the box. Re-running the devkit's
``DetectionEval`` for every resampled set would be slow (its matching loops over every
prediction in Python) and cannot hold a scene twice (boxes are keyed by sample token). What makes
it cheap and exact: the devkit's greedy matching is decided within one sample (a prediction only
competes for ground truth of its own sample, in descending score order), so each sample's
matches are computed once per class and distance threshold; a resampled test set only
concatenates them. The devkit's own ``evaluate`` then turns them into AP, TP errors, mAP and NDS
(its ``accumulate`` is swapped, for that call only, for one that reads the precomputed matches).
``tests/test_evaluation/test_bootstrap.py`` checks that the full set reproduces ``DetectionEval``
exactly.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, List, Optional, Sequence
from unittest import mock

import numpy as np

from ..utils.atomic import atomic_path

__all__ = ['percentile_interval', 'bootstrap_replicates', 'SceneBootstrap',
           'seed_and_scene_replicates', 'ReplicateStore']

ERRORS = ('trans_err', 'vel_err', 'scale_err', 'orient_err', 'attr_err')


def percentile_interval(values: Sequence[float], level: float = 0.95) -> List[float]:
    """The ``level`` percentile interval ``[low, high]`` of bootstrap replicates (NaNs dropped).

    Uses the ``'inverted_cdf'`` percentile (a replicate value, no interpolation between two).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [float('nan'), float('nan')]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail], method='inverted_cdf')
    return [float(low), float(high)]


def bootstrap_replicates(num_units: int, statistic: Callable[[np.ndarray], float],
                         replicates: int = 1000, seed: int = 0) -> np.ndarray:
    """``statistic`` of ``replicates`` resamples (with replacement) of ``num_units`` units.

    Args:
        num_units: how many units (scenes, seeds) there are.
        statistic: unit indices ``(num_units,)`` -> a number.
        replicates: resamples drawn.
        seed: of the resampling (the same seed draws the same resamples).
    """
    rng = np.random.default_rng(seed)
    return np.array([statistic(rng.integers(0, num_units, num_units))
                     for _ in range(replicates)])


@dataclass
class _Matches:
    """One sample's predictions of one class at one distance threshold, in devkit order."""

    conf: np.ndarray  # (P,) scores, descending
    order: np.ndarray  # (P,) the predictions' positions in the devkit's list (tie-breaking)
    tp: np.ndarray  # (P,) bool: matched a ground-truth box
    errors: Dict[str, np.ndarray]  # name -> (number of matches,) TP errors, in match order
    npos: int  # ground-truth boxes of the class in the sample


def _sample_matches(gt: list, preds: list, first_index: int, class_name: str,
                    dist_fcn: Callable, dist_th: float, with_errors: bool) -> _Matches:
    """The devkit's ``accumulate`` matching (nuscenes-devkit 1.2, ``algo.py``) on one sample."""
    from nuscenes.eval.common.utils import (attr_acc, center_distance, scale_iou, velocity_l2,
                                            yaw_diff)
    gt = [box for box in gt if box.detection_name == class_name]
    preds = [(box.detection_score, first_index + i, box) for i, box in enumerate(preds)
             if box.detection_name == class_name]
    preds.sort(key=lambda item: (item[0], item[1]), reverse=True)  # the devkit's sortind
    taken, tp = set(), []
    errors = {name: [] for name in ERRORS}
    for _, _, pred in preds:
        best, best_distance = None, np.inf
        for i, candidate in enumerate(gt):  # the first of equal distances wins, as upstream
            if i not in taken:
                distance = dist_fcn(candidate, pred)
                if distance < best_distance:
                    best, best_distance = i, distance
        matched = best_distance < dist_th
        tp.append(matched)
        if matched:
            taken.add(best)
            if with_errors:
                match = gt[best]
                period = np.pi if class_name == 'barrier' else 2 * np.pi
                errors['trans_err'].append(center_distance(match, pred))
                errors['vel_err'].append(velocity_l2(match, pred))
                errors['scale_err'].append(1 - scale_iou(match, pred))
                errors['orient_err'].append(yaw_diff(match, pred, period=period))
                errors['attr_err'].append(1 - attr_acc(match, pred))
    return _Matches(np.array([p[0] for p in preds], dtype=np.float64),
                    np.array([p[1] for p in preds], dtype=np.int64), np.array(tp, dtype=bool),
                    {k: np.array(v, dtype=np.float64) for k, v in errors.items()}, len(gt))


def _metric_data(matches: List[_Matches]):
    """The tail of the devkit's ``accumulate``: curves of a concatenation of samples."""
    from nuscenes.eval.common.utils import cummean
    from nuscenes.eval.detection.data_classes import DetectionMetricData
    npos = sum(m.npos for m in matches)
    if npos == 0:
        return DetectionMetricData.no_predictions()
    conf = np.concatenate([m.conf for m in matches])
    order = np.concatenate([m.order + k * (1 << 40) for k, m in enumerate(matches)])
    tp_flags = np.concatenate([m.tp for m in matches])
    if not tp_flags.any():
        return DetectionMetricData.no_predictions()
    sort = np.lexsort((-order, -conf))  # score descending, ties by position descending
    conf, tp_flags = conf[sort], tp_flags[sort]
    # TP errors in the order their matches occur in the sorted list
    match_key = np.concatenate([m.order[m.tp] + k * (1 << 40) for k, m in enumerate(matches)])
    match_conf = np.concatenate([m.conf[m.tp] for m in matches])
    match_sort = np.lexsort((-match_key, -match_conf))
    tp = np.cumsum(tp_flags).astype(float)
    fp = np.cumsum(~tp_flags).astype(float)
    prec = tp / (fp + tp)
    rec = tp / float(npos)
    rec_interp = np.linspace(0, 1, DetectionMetricData.nelem)
    prec = np.interp(rec_interp, rec, prec, right=0)
    conf_interp = np.interp(rec_interp, rec, conf, right=0)
    errors = {}
    for name in ERRORS:
        values = np.concatenate([m.errors[name] for m in matches])
        if values.size == 0:  # errors not kept at this threshold: not read by the devkit
            errors[name] = np.zeros(DetectionMetricData.nelem)
            continue
        tmp = cummean(values[match_sort])
        errors[name] = np.interp(conf_interp[::-1], match_conf[match_sort][::-1],
                                 tmp[::-1])[::-1]
    return DetectionMetricData(recall=rec_interp, precision=prec, confidence=conf_interp,
                               **errors)


class SceneBootstrap:
    """Devkit metrics of one prediction file on any multiset of its test scenes.

    Args:
        detection_eval: the devkit's ``DetectionEval`` of the prediction file (ground truth and
            predictions loaded and filtered by the devkit itself).
        key: names this evaluation in a :class:`ReplicateStore` (e.g. the prediction file's
            sha1), so that its replicates outlive the process; None: kept in memory only.
    """

    def __init__(self, detection_eval, key: Optional[str] = None) -> None:
        self.detection_eval = detection_eval
        self.key = key
        detection_eval.verbose = False
        cfg, nusc = detection_eval.cfg, detection_eval.nusc
        gt, preds = detection_eval.gt_boxes, detection_eval.pred_boxes
        self.scenes: List[str] = []
        self.scene_samples: Dict[str, List[int]] = {}
        # a prediction's position in the devkit's list breaks score ties, as upstream
        first_index, offset = {}, 0
        for token in preds.sample_tokens:
            first_index[token] = offset
            offset += len(preds[token])
        self.matches = []
        for index, token in enumerate(gt.sample_tokens):
            scene = nusc.get('sample', token)['scene_token']
            if scene not in self.scene_samples:
                self.scenes.append(scene)
                self.scene_samples[scene] = []
            self.scene_samples[scene].append(index)
            self.matches.append({(c, th): _sample_matches(
                gt[token], preds[token], first_index.get(token, 0), c, cfg.dist_fcn_callable,
                th, th == cfg.dist_th_tp) for c in cfg.class_names for th in cfg.dist_ths})

    def metrics(self, scene_indices: Optional[Sequence[int]] = None) -> Dict[str, float]:
        """``mAP``, ``NDS``, the TP errors and per-class ``<class>_AP`` (mean over the distance
        thresholds, as the devkit's table) on the scenes ``scene_indices`` (repeats allowed;
        None: every scene once)."""
        from nuscenes.eval.detection import evaluate as devkit_evaluate
        if scene_indices is None:
            scene_indices = range(len(self.scenes))
        samples = [i for s in scene_indices for i in self.scene_samples[self.scenes[s]]]

        def accumulate(gt_boxes, pred_boxes, class_name, dist_fcn, dist_th, verbose=False):
            return _metric_data([self.matches[i][(class_name, dist_th)] for i in samples])

        with mock.patch.object(devkit_evaluate, 'accumulate', accumulate):
            metrics, _ = self.detection_eval.evaluate()
        out = dict(mAP=float(metrics.mean_ap), NDS=float(metrics.nd_score))
        out.update({k: float(v) for k, v in metrics.tp_errors.items()})
        out.update({f'{c}_AP': float(ap) for c, ap in metrics.mean_dist_aps.items()})
        return out


def seed_and_scene_replicates(models: Dict[str, Sequence[SceneBootstrap]],
                              metrics: Sequence[str] = ('mAP', 'NDS', 'car_AP'),
                              replicates: int = 1000,
                              seed: int = 0,
                              cache: Optional[dict] = None) -> Dict[str, Dict[str, np.ndarray]]:
    """Bootstrap of each model's mean over its seeds, resampling seeds and test scenes.

    Every replicate draws one resample of the test scenes (the same for every model) and one
    resample of the seed indices per number of seeds (models with as many seeds share it), so
    seed ``k`` of one model stays paired with seed ``k`` of another (same samples, order and
    augmentations): the difference of two models' replicates is the paired difference's
    bootstrap. The scene draws come from one stream, the seed draws for ``n`` seeds from a
    stream of their own, and each evaluation is scored on every scene draw once
    (:func:`evaluation_replicates`), so a model's replicates depend on its evaluations alone and
    ``cache`` can keep each evaluation's scores.

    Args:
        models: name -> per seed (in seed order) the :class:`SceneBootstrap` of its test run.
        metrics: keys of :meth:`SceneBootstrap.metrics`.
        cache: a dict kept by the caller across calls (e.g. a benchmark re-scoring its tables
            after each new run), or a :class:`ReplicateStore` that also keeps them on disk: an
            evaluation scored in an earlier call is not scored again, so a model's new seed
            costs ``replicates`` scorings of that seed's evaluation alone.

    Returns:
        dict: name -> metric -> ``(replicates,)`` means over the resampled seeds.
    """
    scenes = next(iter(models.values()))[0].scenes
    for name, boots in models.items():
        if not boots:
            raise ValueError(f'{name}: no evaluation')
        if any(boot.scenes != scenes for boot in boots):
            raise ValueError(f'{name}: every evaluation must be on the same test scenes')
    scene_draws = np.random.default_rng(seed).integers(0, len(scenes),
                                                       (replicates, len(scenes)))
    cache = {} if cache is None else cache
    out = {}
    for name, boots in models.items():
        n = len(boots)
        seed_draws = np.random.default_rng([seed, n]).integers(0, n, (replicates, n))
        scored = [evaluation_replicates(boot, scene_draws, metrics, seed, cache)
                  for boot in boots]
        rows = np.arange(replicates)[:, None]
        out[name] = {m: np.stack([s[m] for s in scored])[seed_draws, rows].mean(axis=1)
                     for m in metrics}
    return out


def evaluation_replicates(boot: SceneBootstrap, scene_draws: np.ndarray, metrics: Sequence[str],
                          seed: int, cache: dict) -> Dict[str, np.ndarray]:
    """metric -> ``(replicates,)``: ``boot``'s metrics on every row of ``scene_draws`` (indices
    into its scenes), from ``cache`` when it holds them (under ``boot.key`` when there is one,
    else under the evaluation object itself)."""
    replicates = scene_draws.shape[0]
    own = getattr(boot, 'key', None)
    key: Hashable = ((f'{own}-scenes{len(boot.scenes)}-seed{seed}-r{replicates}-' +
                      '+'.join(metrics)) if own else (boot, tuple(metrics), replicates, seed))
    if key not in cache:
        values = {m: np.empty(replicates) for m in metrics}
        for r in range(replicates):
            result = boot.metrics(scene_draws[r])
            for m in metrics:
                values[m][r] = result[m]
        cache[key] = values
    return cache[key]


class ReplicateStore(dict):
    """A :func:`seed_and_scene_replicates` cache that also writes every evaluation scored under
    a string key (:attr:`SceneBootstrap.key`) to ``folder/<key>.npz`` and reads it back in a
    later process: a benchmark that spans sessions scores each evaluation once."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def _path(self, key: str) -> str:
        return osp.join(self.folder, f'{key}.npz')

    def __contains__(self, key) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and
                                             osp.isfile(self._path(key)))

    def __getitem__(self, key):
        if not super().__contains__(key) and isinstance(key, str):
            with np.load(self._path(key)) as stored:
                super().__setitem__(key, {m: stored[m] for m in stored.files})
        return super().__getitem__(key)

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        if isinstance(key, str):
            os.makedirs(self.folder, exist_ok=True)
            with atomic_path(self._path(key)) as tmp, open(tmp, 'wb') as f:
                np.savez(f, **value)
