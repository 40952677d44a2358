"""Writes that never leave a half-written file: a temporary file beside the target, renamed.

A writer killed before its rename leaves its temporary behind under a hidden name that carries
its process id (``.<name>.<pid>.*.tmp``); the next write of the same target removes the
temporaries of processes that no longer run.

A finished folder (a dataset release, a GT database) replaces an existing one with
:func:`replace_path`: one ``renameat2(RENAME_EXCHANGE)`` swaps the two names atomically, so the
target is at every moment the old or the new folder, then the old one is deleted.
"""
import contextlib
import ctypes
import errno
import json
import os
import os.path as osp
import re
import shutil
import sys
import tempfile
from typing import Any, Callable, Iterator, Optional


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


def write_text_atomic(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` through :func:`atomic_path` (folders made as needed)."""
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


def write_json_atomic(path: str, obj: Any, indent: int = 1) -> None:
    """Writes ``obj`` as JSON to ``path`` through :func:`atomic_path`."""
    write_text_atomic(path, json.dumps(obj, indent=indent))


# --------------------------------------------------------------------------------------------
# replacing a folder in one step
# --------------------------------------------------------------------------------------------
_AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
_RENAME_EXCHANGE = 2  # <linux/fs.h>
# errno values meaning "this kernel or filesystem cannot exchange": fall back, nothing changed
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _renameat2() -> Optional[Callable[..., int]]:
    """glibc's ``renameat2`` (2.28+; Linux 3.15+), or None off Linux or on an older libc."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def exchange_paths(a: str, b: str) -> bool:
    """Swaps what the names ``a`` and ``b`` point to in one step (both must exist).

    Returns:
        bool: True when swapped; False (nothing changed) where the platform, the C library,
        the kernel or the filesystem cannot exchange names.

    Raises:
        OSError: any other failure (e.g. ``a`` missing, another filesystem).
    """
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), a, None, b)


def remove_path(path: str) -> None:
    """Removes a file, a link (never what it points to) or a folder tree."""
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def restore_interrupted_swap(target: str) -> None:
    """Undoes a two-rename swap that was killed between its renames (see
    :func:`replace_path`'s fallback): when ``target`` is missing and a dead writer's
    ``.<name>.old-<pid>.*/<name>`` holds the previous content, it is put back; then the dead
    writers' ``.<name>.old-*`` folders are removed."""
    folder, name = osp.split(osp.abspath(target))
    prefix = f'.{name}.old-'
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.[A-Za-z0-9_]+')
    for entry in sorted(os.listdir(folder)):
        found = pattern.fullmatch(entry)
        kept = osp.join(folder, entry, name)
        if (found and not osp.lexists(target) and osp.lexists(kept)
                and int(found.group(1)) != os.getpid() and not process_alive(
                    int(found.group(1)))):
            os.rename(kept, target)
    remove_stale_temporaries(folder, prefix)


def replace_path(src: str, dst: str) -> None:
    """Puts ``src`` (a finished folder or file, on ``dst``'s filesystem) at ``dst``.

    What ``dst`` held (a folder, a file or a link, never what a link points to) is replaced
    in one step and then deleted: where ``dst`` exists, one ``renameat2(RENAME_EXCHANGE)``
    swaps the names (a file onto a file is one ``rename``), so a reader or a kill at any
    moment finds the old or the new content at ``dst``; a kill after the swap leaves the old
    content under ``src``'s name.

    Fallback, where the platform or filesystem cannot exchange (not Linux, kernel < 3.15,
    glibc < 2.28, some network filesystems): two renames, ``dst`` into a hidden
    ``.<name>.old-<pid>.*`` folder, then ``src`` onto ``dst``. A kill between them leaves
    ``dst`` missing for the moment; the next :func:`replace_path` (or
    :func:`restore_interrupted_swap`) of the same target puts the old content back first.
    """
    restore_interrupted_swap(dst)
    if not osp.lexists(dst):
        os.rename(src, dst)
        return
    if not osp.isdir(src) and (osp.islink(dst) or not osp.isdir(dst)):
        os.replace(src, dst)  # a file or link onto a file or link: one rename
        return
    if exchange_paths(src, dst):
        remove_path(src)  # the previous content, now under src's name
        return
    folder, name = osp.split(osp.abspath(dst))
    old = tempfile.mkdtemp(prefix=f'.{name}.old-{os.getpid()}.', dir=folder)
    os.rename(dst, osp.join(old, name))
    try:
        os.rename(src, dst)
    except BaseException:
        os.rename(osp.join(old, name), dst)
        raise
    shutil.rmtree(old)
