"""Value noise fixed in world coordinates (the grain of asphalt, paving and lawns), so that
every camera sees the same ground texture and a network can learn depth from its perspective."""
import numpy as np

__all__ = ['tile_noise']


def tile_noise(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """A hash of integer tile coordinates mapped to [0, 1] (float32); same shape as ``ix``."""
    a = ix.astype(np.int32).view(np.uint32)
    b = iy.astype(np.int32).view(np.uint32)
    h = a * np.uint32(73856093) ^ b * np.uint32(19349663) ^ np.uint32(seed * 83492791 % 2**32)
    h ^= h >> np.uint32(13)
    h *= np.uint32(1274126177)
    h ^= h >> np.uint32(16)
    return (h & np.uint32(0xFFFF)).astype(np.float32) * np.float32(1 / 65535)
