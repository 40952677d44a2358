"""Evaluates a checkpoint with mmdet3d's own ``tools/test.py``.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--cfg-options ...]

Same as ``mim test mmdet3d CONFIG --checkpoint CHECKPOINT``; this entry point imports
``simdistill`` first.
"""
from simdistill.entrypoints.run import run_tool

if __name__ == '__main__':
    run_tool('test.py')
