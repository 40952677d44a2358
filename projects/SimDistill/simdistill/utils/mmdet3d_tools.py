"""The scripts mmdet3d ships in its wheel (``mmdet3d/.mim/tools``), found and run as they are.

``mim train mmdet3d CONFIG`` runs the same ``train.py``; running it through :func:`run_tool`
additionally imports ``simdistill`` and applies its torch 2.13 shims
(:func:`simdistill.compat.apply_all`) before the script starts, whatever the config's
``custom_imports`` say.
"""
import os.path as osp
import runpy
import sys
from typing import List, Optional


def mmdet3d_tools_root() -> str:
    """The folder holding mmdet3d's shipped ``tools/`` (``.../mmdet3d/.mim``)."""
    import mmdet3d
    root = osp.join(osp.dirname(mmdet3d.__file__), '.mim')
    if not osp.isdir(osp.join(root, 'tools')):
        raise FileNotFoundError(f'mmdet3d {mmdet3d.__version__} has no {root}/tools; '
                                'reinstall mmdet3d from its wheel')
    return root


def mmdet3d_tool(name: str) -> str:
    """Path of one shipped script, e.g. ``'train.py'`` or ``'create_data.py'``."""
    path = osp.join(mmdet3d_tools_root(), 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmdet3d does not ship {path}')
    return path


def run_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Runs a shipped script in this process as ``__main__`` with ``argv`` (default: ours).

    The data roots and info files the config names are checked first (before the script's
    runner writes its work dir); see :mod:`simdistill.utils.config_inputs`.
    """
    import simdistill  # noqa: F401
    from ..compat import apply_all
    from .config_inputs import check_tool_inputs
    apply_all()  # this process is the tool's: its checkpoints, spconv and DDP get the shims
    script = mmdet3d_tool(name)
    argv = list(sys.argv[1:] if argv is None else argv)
    if '-h' not in argv and '--help' not in argv:
        check_tool_inputs(name, argv)
    sys.argv = [script] + argv
    runpy.run_path(script, run_name='__main__')
