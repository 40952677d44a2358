"""What tools/setup.sh finds installed, and its closing report, in one interpreter each.

    python tools/setup_probe.py probe   # last line: the components already there
    python tools/setup_probe.py ready   # builds the BEV pool op, prints the stack's versions

``probe`` ends with the closing report itself (and the word ``ready``) when every component is
there, so a second setup.sh run starts one interpreter instead of about fifteen.
Versions come from the environment (MMENGINE, MMCV, MMDET, MMDET3D, ONNX, ORT: the pins of
requirements/*.txt as setup.sh reads them) and ROOT is the checkout the plugin must come from.
"""
import os
import sys

PROBES = {
    'torch': 'import torch',
    'build-tools': 'import numpy, setuptools, ninja; '
                   'assert int(numpy.__version__.split(".")[0]) < 2; '
                   'assert int(setuptools.__version__.split(".")[0]) < 70',
    'mmengine': 'import mmengine; assert mmengine.__version__ == env["MMENGINE"]',
    'mmcv': 'import mmcv, mmcv._ext; assert mmcv.__version__ == env["MMCV"]',
    'mmdet': 'import mmdet; assert mmdet.__version__ == env["MMDET"]',
    'mmdet3d': 'import mmdet3d; assert mmdet3d.__version__ == env["MMDET3D"]',
    'devkit': 'import nuscenes; from nuscenes.eval.detection.evaluate import DetectionEval',
    'mim': 'import mim',
    'spconv': 'import spconv.pytorch',
    'test-tools': 'import pytest, hypothesis',
    'onnx': 'import onnx, onnxruntime, onnxscript; assert onnx.__version__ == env["ONNX"]; '
            'assert onnxruntime.__version__ == env["ORT"]',
    'plugin': 'import simdistill, os; '
              'assert os.path.dirname(simdistill.__file__).startswith(env["ROOT"])',
}


def ready() -> None:
    """Build (or find) the compiled ops and print the versions of the installed stack."""
    import mmcv
    import mmdet
    import mmdet3d
    import mmengine
    import torch

    import simdistill
    try:
        from simdistill.ops.bev_pool import build
        print('[setup] BEV pool op:', build(verbose=False))
    except Exception as error:  # the plugin falls back to PyTorch; say why
        print(f'[setup] BEV pool op did not build ({error}): the pure-PyTorch implementation '
              'will be used')
    try:
        from simdistill.ops.deformable_attention.extension import EXTENSION
        print('[setup] deformable attention op:', EXTENSION.build(cuda=False, verbose=False))
    except Exception as error:  # the GCM falls back to mmcv's PyTorch path; say why
        print(f'[setup] deformable attention op did not build ({error}): mmcv\'s PyTorch '
              'path will be used')
    try:
        from simdistill.deployment.onnxruntime_ops import library_path
        print('[setup] onnxruntime custom-op library:', library_path())
    except Exception as error:  # only export_onnx(custom_ops=True) graphs need it; say why
        print(f'[setup] onnxruntime custom-op library did not build ({error}): graphs with '
              'simdistill:: nodes will not run; stock graphs do')
    print(f'[setup] ready: torch {torch.__version__}, mmengine {mmengine.__version__}, '
          f'mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmdet3d {mmdet3d.__version__}, '
          f'simdistill from {os.path.dirname(simdistill.__file__)}', flush=True)


def probe() -> None:
    present = []
    for name, code in PROBES.items():
        try:
            exec(code, {'env': os.environ})
            present.append(name)
        except Exception:  # anything that fails to import or to match is reinstalled
            pass
    if len(present) == len(PROBES):
        ready()
        present.append('ready')
    print(' '.join(present))


if __name__ == '__main__':
    {'probe': probe, 'ready': ready}[sys.argv[1]]()
