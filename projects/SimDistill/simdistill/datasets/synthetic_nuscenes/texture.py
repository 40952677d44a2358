"""The ground's appearance, fixed in global coordinates so that cameras and LiDAR agree and a
network can learn depth from its perspective."""
import numpy as np

__all__ = ['TILE_SIZE', 'SEAM_SPACING', 'ground_albedo', 'tile_noise']

TILE_SIZE = 2.0  # m
SEAM_SPACING = 10.0  # m between the darker seams
_SEAM_HALF_WIDTH = 0.12  # m


def tile_noise(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """A hash of integer tile coordinates mapped to [0, 1] (float32); same shape as ``ix``."""
    a = ix.astype(np.int32).view(np.uint32)
    b = iy.astype(np.int32).view(np.uint32)
    h = a * np.uint32(73856093) ^ b * np.uint32(19349663) ^ np.uint32(seed * 83492791 % 2**32)
    h ^= h >> np.uint32(13)
    h *= np.uint32(1274126177)
    h ^= h >> np.uint32(16)
    return (h & np.uint32(0xFFFF)).astype(np.float32) * np.float32(1 / 65535)


def ground_albedo(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Grey level in [0, 1] (float32) of the ground at global ``x, y`` (metres), any equal
    shapes: a checkerboard of :data:`TILE_SIZE` tiles whose brightness varies per tile, crossed
    by darker seams every :data:`SEAM_SPACING` metres."""
    ix = np.floor(x * (1 / TILE_SIZE)).astype(np.int64)
    iy = np.floor(y * (1 / TILE_SIZE)).astype(np.int64)
    albedo = np.float32(0.34) + np.float32(0.07) * ((ix + iy) & 1) + \
        np.float32(0.12) * tile_noise(ix, iy, seed)
    seam = np.zeros(ix.shape, dtype=bool)
    for v in (x, y):  # distance to the nearest seam line
        seam |= np.abs(v - SEAM_SPACING * np.floor(v * (1 / SEAM_SPACING) + 0.5)) < \
            _SEAM_HALF_WIDTH
    return np.where(seam, np.float32(0.22), albedo.astype(np.float32))
