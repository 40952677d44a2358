"""Writes that never leave a half-written file: a temporary file beside the target, renamed.

A writer killed before its rename leaves its temporary behind under a hidden name that carries
its process id (``.<name>.<pid>.*.tmp``); the next write of the same target removes the
temporaries of processes that no longer run.
"""
import contextlib
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Iterator


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (or exists under another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str, prefix: str, suffix: str = '') -> None:
    """Removes the files and folders ``<folder>/<prefix><pid>.<random><suffix>`` (as
    ``tempfile.mkstemp``/``mkdtemp`` name them) whose writer ``pid`` no longer runs.

    Args:
        folder: where the writer puts its temporaries.
        prefix: their name up to the process id, e.g. ``'.report.json.'``.
        suffix: their name after the random part, e.g. ``'.tmp'``.
    """
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.[A-Za-z0-9_]+' + re.escape(suffix))
    for name in os.listdir(folder):
        found = pattern.fullmatch(name)
        if not found or int(found.group(1)) == os.getpid() or process_alive(
                int(found.group(1))):
            continue
        path = osp.join(folder, name)
        if osp.isdir(path) and not osp.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path in ``path``'s folder; renames it onto ``path`` on success.

    On an exception (or a kill before the rename) ``path`` keeps its previous content and the
    temporary file is removed (or, after a kill, left as a hidden ``.<name>.<pid>.*.tmp`` that
    the next ``atomic_path`` of the same file removes).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = f'.{osp.basename(path)}.'
    remove_stale_temporaries(folder, prefix, '.tmp')
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'{prefix}{os.getpid()}.', suffix='.tmp')
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
