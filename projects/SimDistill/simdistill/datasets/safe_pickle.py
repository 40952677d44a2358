"""Info files (``nuscenes_infos_*.pkl``, ``*_dbinfos_*.pkl``) read without running their code.

mmengine reads them with plain :mod:`pickle`, which calls whatever callable a file names: a
downloaded or shared info file could run any code on the machine that trains on it. What
mmdet3d's converter writes is plain data: dicts, lists, tuples, strings, numbers, booleans,
None (pickle opcodes, no global needed) and numpy arrays, dtypes and scalars, which pickle
rebuilds through the few numpy functions below (``_codecs.encode`` turns the bytes of an array
back into ``bytes`` in protocol-2 pickles, which mmengine writes). Anything else is refused
before it is built, naming the file and the global, as the weights-only checkpoint loading of
:mod:`simdistill.checkpoint.loading` does for checkpoints.
"""
import io
import pickle
from typing import Any, FrozenSet, Tuple

from ..errors import CorruptFileError, MissingFileError, UnsafeInfoFileError

# numpy 1.x pickles name ``numpy.core.*``; numpy 2 writes ``numpy._core.*`` (both accepted,
# so infos made with either load here).
_NUMPY_CORE = ('numpy.core.multiarray', 'numpy._core.multiarray')
ALLOWED_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset({
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    *((m, '_reconstruct') for m in _NUMPY_CORE),
    *((m, 'scalar') for m in _NUMPY_CORE),
    ('numpy.core.numeric', '_frombuffer'),  # arrays pickled with protocol 5
    ('numpy._core.numeric', '_frombuffer'),
    ('_codecs', 'encode'),  # bytes in protocol 2
})


class InfoUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals of :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object.
        source: the file's name, for messages.
    """

    def __init__(self, file, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeInfoFileError(
                f'refused to load info file {self.source}: it holds an object of type '
                f'{module}.{name}, and info files may hold only dicts, lists, tuples, strings, '
                'numbers, booleans, None and numpy arrays, dtypes and scalars (what mmdet3d\'s '
                'converter writes). Re-create it with tools/create_data.py.')
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeInfoFileError(f'refused to load info file {self.source}: it references '
                                  f'a persistent object {pid!r}')


def loads_info(data: bytes, source: str = '<bytes>') -> Any:
    """Unpickles ``data`` with :class:`InfoUnpickler`."""
    return InfoUnpickler(io.BytesIO(data), source).load()


def load_info_file(path: str) -> Any:
    """Reads an info pkl, admitting only plain data and numpy arrays.

    Raises:
        MissingFileError: the file does not exist.
        UnsafeInfoFileError: it holds any other object (nothing of it was built or called).
        CorruptFileError: it is truncated or not a pickle.
    """
    try:
        with open(path, 'rb') as f:
            return InfoUnpickler(f, path).load()
    except FileNotFoundError as err:
        raise MissingFileError(f'info file not found: {path}') from err
    except UnsafeInfoFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError) as err:
        raise CorruptFileError(f'info file {path} does not load as a pickle (truncated?): '
                               f'{type(err).__name__}: {err}') from err
