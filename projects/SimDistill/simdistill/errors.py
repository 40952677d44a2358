"""The errors SimDistill raises for bad input: each names the file, key or shape at fault.

Every class derives from :class:`InputError` (catch that for "the user's input is wrong") and
from the built-in exception callers caught before it existed (``FileNotFoundError``,
``ValueError``, ``KeyError``, ``pickle.UnpicklingError``), so existing handlers keep working.
"""
import pickle


class InputError(Exception):
    """Base class: a file, config or checkpoint given to SimDistill is unusable."""


class MissingFileError(InputError, FileNotFoundError):
    """A file or folder the input names does not exist (data root, info file, points, image,
    checkpoint)."""


class CorruptFileError(InputError, ValueError):
    """A file exists but its content cannot be what it claims: a point file whose size is not
    a whole number of points, a non-finite coordinate, an image that does not decode."""


class InfoFileError(InputError, ValueError):
    """An info pkl in another layout (mmdet3d 0.x) or of another dataset."""


class SampleLayoutError(InputError, ValueError):
    """A sample lacks part of what the config needs, e.g. one of its cameras."""


class ConfigMismatchError(InputError, ValueError):
    """Two parts of a config disagree: teacher and student grids or classes."""


class CheckpointMismatchError(InputError, KeyError):
    """A checkpoint's tensors do not fit the model (missing, unexpected or mis-shaped keys)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class UnsafeCheckpointError(InputError, pickle.UnpicklingError):
    """A checkpoint holds an object outside the weights-only allow-list."""


class UnsafeInfoFileError(InputError, pickle.UnpicklingError):
    """An info pkl holds an object outside what mmdet3d's converter writes."""


class ResultsFileError(InputError, ValueError):
    """A detection results file the nuScenes devkit cannot evaluate."""
