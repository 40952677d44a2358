"""Helpers shared by the generator's tests (``tests/test_synthetic_nuscenes/``); for tests
only, nothing in the generator imports this module, and it imports no pytest.

They assume a checkout, as the tests do: :data:`ROOT` is the repository root found from this
module's location (``projects/SimDistill/synthetic_nuscenes/testing.py``), and the tool they load
is read from there. (The generator is its own package: these are not in ``simdistill.testing``,
since the plugin never imports the generator.)"""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load_cli():
    """``main`` of tools/create_synthetic_nuscenes.py."""
    path = ROOT / 'tools' / 'create_synthetic_nuscenes.py'
    spec = importlib.util.spec_from_file_location('create_synthetic_nuscenes', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def assert_ground_truth_scored_perfectly(evaluation) -> None:
    """A devkit ``DetectionEval`` of the ground truth submitted as predictions: at least five
    classes present, each with AP@2m above 0.99 and no translation error."""
    metrics, _ = evaluation.evaluate()
    present = {box.detection_name for box in evaluation.gt_boxes.all}
    assert len(present) >= 5
    for name in present:
        assert metrics.get_label_ap(name, 2.0) > 0.99, name
        assert metrics.get_label_tp(name, 'trans_err') < 1e-6
