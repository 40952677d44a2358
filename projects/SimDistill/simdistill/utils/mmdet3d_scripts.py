"""Where the scripts mmdet3d ships in its wheel (``mmdet3d/.mim/tools``) are; running them is
:mod:`simdistill.entrypoints.run`."""
import os.path as osp


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
