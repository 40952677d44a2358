"""Surface materials shared by the LiDAR and the cameras (what a surface reflects in each), the
colour palettes of the world's styles and the window patterns of facades and buses."""
import colorsys
from dataclasses import dataclass

import numpy as np

__all__ = [
    'Material', 'MATERIALS', 'MATERIAL_INDEX', 'PALETTES', 'PATTERN_NONE', 'PATTERN_FACADE',
    'PATTERN_BUS', 'paint_colour', 'window_mask', 'material_id'
]


@dataclass(frozen=True)
class Material:
    """What a surface returns to each sensor.

    Attributes:
        name: Short name.
        reflectivity: Mean LiDAR intensity at normal incidence (0-255).
        dropout: Probability that a ray hitting it returns nothing (glass, dark rubber).
    """

    name: str
    reflectivity: float
    dropout: float


MATERIALS = (
    Material('asphalt', 9.0, 0.01),
    Material('lane_paint', 70.0, 0.0),
    Material('concrete', 28.0, 0.0),
    Material('grass', 14.0, 0.02),
    Material('kerb_stone', 34.0, 0.0),
    Material('facade', 22.0, 0.0),
    Material('glass', 6.0, 0.35),
    Material('paint', 40.0, 0.0),  # vehicle bodywork
    Material('rubber', 4.0, 0.05),
    Material('lamp', 150.0, 0.0),  # head and tail lights (retro-reflective)
    Material('cloth', 18.0, 0.0),
    Material('skin', 20.0, 0.0),
    Material('plastic', 60.0, 0.0),  # cones, barriers
    Material('reflective', 220.0, 0.0),  # sign plates, reflective bands
    Material('metal', 45.0, 0.0),
    Material('bark', 12.0, 0.0),
    Material('foliage', 10.0, 0.15),
    Material('roof', 16.0, 0.0),
)
MATERIAL_INDEX = {m.name: i for i, m in enumerate(MATERIALS)}


def material_id(name: str) -> int:
    """Index of material ``name`` in :data:`MATERIALS`."""
    return MATERIAL_INDEX[name]


PATTERN_NONE, PATTERN_FACADE, PATTERN_BUS = 0, 1, 2

# Style -> what colours things are painted in. Object paints are saturated (saturation >= 0.5),
# everything in the background is greyish (saturation <= 0.45), in every palette.
PALETTES = {
    'standard': {
        'paint_hues': (0.0, 0.03, 0.08, 0.15, 0.33, 0.55, 0.62, 0.7, 0.8, 0.92),
        'paint_saturation': (0.6, 0.95),
        'paint_value': (0.45, 0.95),
        'facade': ((0.78, 0.74, 0.68), (0.62, 0.58, 0.55), (0.55, 0.55, 0.58), (0.72, 0.66, 0.58),
                   (0.48, 0.44, 0.42), (0.82, 0.8, 0.76)),
        'foliage': (0.27, 0.36, 0.2),
        'grass': (0.36, 0.44, 0.27),
    },
    'pastel': {
        'paint_hues': (0.05, 0.12, 0.2, 0.45, 0.5, 0.58, 0.75, 0.85, 0.97),
        'paint_saturation': (0.5, 0.65),
        'paint_value': (0.6, 0.98),
        'facade': ((0.86, 0.8, 0.7), (0.9, 0.86, 0.8), (0.76, 0.8, 0.82), (0.84, 0.76, 0.74),
                   (0.7, 0.72, 0.66)),
        'foliage': (0.33, 0.42, 0.28),
        'grass': (0.48, 0.54, 0.36),
    },
}


def paint_colour(rng: np.random.Generator, palette: str) -> np.ndarray:
    """A vehicle or clothing paint ``(3,)`` RGB in [0, 1] drawn from ``palette``."""
    spec = PALETTES[palette]
    hue = spec['paint_hues'][rng.integers(len(spec['paint_hues']))] + rng.normal(0.0, 0.01)
    saturation = rng.uniform(*spec['paint_saturation'])
    value = rng.uniform(*spec['paint_value'])
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value))


def window_mask(pattern: np.ndarray, axis: np.ndarray, local: np.ndarray,
                half: np.ndarray) -> np.ndarray:
    """Which surface points are glass: facade windows on every floor, a bus's window band.

    Args:
        pattern: ``(N,)`` PATTERN_* of the solid each point lies on.
        axis: ``(N,)`` box axis (0: length, 1: width, 2: height) of the face hit.
        local: ``(N, 3)`` the points in their solid's frame (metres from its centre).
        half: ``(N, 3)`` the solids' half extents (metres).

    Returns:
        ``(N,)`` bool.
    """
    side = axis != 2
    # Coordinate along the face: the other horizontal axis; height measured from the bottom.
    along = np.where(axis == 0, local[:, 1], local[:, 0])
    height = local[:, 2] + half[:, 2]
    facade = ((pattern == PATTERN_FACADE) & side & (height > 1.0) & (np.mod(along, 3.0) < 1.7)
              & (np.mod(height - 1.0, 3.2) < 1.7) & (height < 2 * half[:, 2] - 0.6))
    relative = height / (2 * half[:, 2])
    front = (axis == 0) & (local[:, 0] > 0)  # the windscreen reaches lower than the rest
    bus = (pattern == PATTERN_BUS) & side & (relative > np.where(front, 0.35, 0.55)) & \
        (relative < 0.88) & ((axis == 0) | (np.mod(along, 1.6) < 1.3))
    return facade | bus
