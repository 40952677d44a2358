"""Runs the scripts mmdet3d ships in its wheel (``mmdet3d/.mim/tools``) as they are.

``mim train mmdet3d CONFIG`` runs the same ``train.py``; running it through :func:`run_tool`
additionally imports ``simdistill``, applies its torch 2.13 shims
(:func:`simdistill.compat.apply_all`) whatever the config's ``custom_imports`` say, and checks
the files the config names before the script starts.
"""
import runpy
import sys
from typing import List, Optional

from ..compat import apply_all
from ..utils.mmdet3d_scripts import mmdet3d_tool
from .inputs import check_tool_inputs


def run_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Runs a shipped script in this process as ``__main__`` with ``argv`` (default: ours).

    The data roots and info files the config names are checked first (before the script's
    runner writes its work dir); see :mod:`simdistill.entrypoints.inputs`. ``train.py
    --resume`` with a ``load_from`` starts from ``load_from`` while there is nothing to resume
    (:mod:`simdistill.entrypoints.resume`).
    """
    import simdistill  # noqa: F401
    apply_all()  # this process is the tool's: its checkpoints, spconv and DDP get the shims
    script = mmdet3d_tool(name)
    argv = list(sys.argv[1:] if argv is None else argv)
    if '-h' not in argv and '--help' not in argv:
        argv = check_tool_inputs(name, argv)
    sys.argv = [script] + argv
    runpy.run_path(script, run_name='__main__')
