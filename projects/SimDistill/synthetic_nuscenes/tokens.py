"""Deterministic 32-hex-digit tokens, like the nuScenes release's."""
import hashlib

__all__ = ['TokenFactory']


class TokenFactory:
    """Derives every token from the seed and a path of names, independent of generation order.

    Args:
        seed: The generator seed; another seed gives other tokens for the same records.
    """

    def __init__(self, seed: int) -> None:
        self._prefix = f'simdistill-synthetic-nuscenes/{seed}'

    def __call__(self, *parts: object) -> str:
        """The token of the record named by ``parts``, e.g. ``('sample', 'scene-0061', 3)``."""
        key = '/'.join([self._prefix, *map(str, parts)])
        return hashlib.md5(key.encode()).hexdigest()
