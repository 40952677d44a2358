"""mmdet3d's ``NuScenesMetric`` whose devkit failures name the results file, sample and key.

The nuScenes devkit validates a results file with bare asserts and ``KeyError`` s ("Error:
Unknown detection_name", ``KeyError: 'rotation'``, "Samples in split doesn't match samples in
predictions."), none naming the file or the box. When the devkit fails,
:func:`results_file_problem` re-reads the file to say where, and a :class:`ResultsFileError`
is raised; a run the devkit accepts costs nothing extra.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mmdet3d.evaluation.metrics import NuScenesMetric
from mmdet3d.registry import METRICS

from ..errors import ResultsFileError
from ..datasets.safe_pickle import load_info_file

# What the devkit raises for a malformed results file (it validates with asserts).
DEVKIT_REJECTIONS = (AssertionError, KeyError, TypeError, ValueError)


def results_file_problem(path: str, max_boxes_per_sample: int) -> Optional[str]:
    """The first thing in a nuScenes detection results file the devkit cannot load, or None.

    Checks what the devkit's ``load_prediction`` does (JSON with ``results`` and ``meta``,
    every box a valid ``DetectionBox``, at most ``max_boxes_per_sample`` per sample), naming
    the sample token, the box index and the key.
    """
    from nuscenes.eval.detection.data_classes import DetectionBox
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        return f'not valid JSON ({err})'
    if not isinstance(data, dict) or not isinstance(data.get('results'), dict) or \
            not isinstance(data.get('meta'), dict):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        return f'the top level needs a "results" dict and a "meta" dict, has {keys}'
    for token, boxes in data['results'].items():
        if not isinstance(boxes, list):
            return f'results[{token!r}] is a {type(boxes).__name__}, expected a list of boxes'
        if len(boxes) > max_boxes_per_sample:
            return (f'results[{token!r}] has {len(boxes)} boxes, the devkit allows at most '
                    f'{max_boxes_per_sample} per sample')
        for i, box in enumerate(boxes):
            try:
                DetectionBox.deserialize(box)
            except KeyError as err:
                return f'results[{token!r}][{i}] lacks the key {err}'
            except (AssertionError, TypeError, ValueError) as err:
                return f'results[{token!r}][{i}]: {type(err).__name__}: {err}'
    return None


@METRICS.register_module()
class CheckedNuScenesMetric(NuScenesMetric):
    """``NuScenesMetric`` raising :class:`ResultsFileError` when the devkit rejects the results
    file (naming the file, and the sample, box and key at fault). Same arguments.

    The info file (``ann_file``) is read by the restricted unpickler of
    :mod:`simdistill.datasets.safe_pickle` first: one that would run code is refused before
    mmdet3d's plain-pickle load sees it."""

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if osp.isfile(self.ann_file):  # a remote ann_file goes to mmdet3d's loader alone
            load_info_file(self.ann_file)
        return super().compute_metrics(results)

    def evaluate_results_file(self, result_path: str,
                              classes: Optional[List[str]] = None) -> Dict[str, float]:
        """Devkit metrics of a ``results_nusc.json`` already on disk (as ``tools/test.py``
        writes it), with the keys this metric logs.

        Raises:
            ResultsFileError: the devkit rejects the file.
        """
        self.version = self.dataset_meta['version']  # as compute_metrics sets it
        return self._evaluate_single(result_path, classes or list(self.dataset_meta['classes']))

    def _evaluate_single(self, result_path: str, classes: Optional[List[str]] = None,
                         result_name: str = 'pred_instances_3d') -> Dict[str, float]:
        plots = osp.join(osp.dirname(result_path), 'plots')
        had_plots = osp.exists(plots)
        try:
            return super()._evaluate_single(result_path, classes, result_name)
        except DEVKIT_REJECTIONS as err:
            if not had_plots and osp.isdir(plots) and not os.listdir(plots):
                os.rmdir(plots)  # the devkit makes it before it reads the file
            max_boxes = self.eval_detection_configs.max_boxes_per_sample
            problem = results_file_problem(result_path, max_boxes)
            if problem is None and "Samples in split doesn't match" in str(err):
                problem = (f'the samples predicted are not exactly those of the '
                           f'{self.version} evaluation split (the devkit: {err})')
            if problem is None:
                raise
            raise ResultsFileError(f'the nuScenes devkit rejected results file {result_path}: '
                                   f'{problem}') from err
