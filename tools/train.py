"""Trains a detector from a config with mmdet3d's own ``tools/train.py``.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options ...]

Same as ``mim train mmdet3d CONFIG``; this entry point imports ``simdistill`` first.
"""
from simdistill.entrypoints.run import run_tool

if __name__ == '__main__':
    run_tool('train.py')
