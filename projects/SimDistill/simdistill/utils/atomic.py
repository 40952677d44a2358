"""Writes that never leave a half-written file: a temporary file beside the target, renamed."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path in ``path``'s folder; renames it onto ``path`` on success.

    On an exception (or a kill before the rename) ``path`` keeps its previous content and the
    temporary file is removed (or, after a kill, left as a hidden ``.<name>.*.tmp``).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates it 0600; give it a normal file's mode
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
