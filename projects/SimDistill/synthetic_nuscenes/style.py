"""Each scene's street style (layout, clutter density, palette), drawn from the seed where the
settings leave it open: one world holds several street styles, as real data (many streets of two
cities) does, so a model trained on it has not seen a single look only."""
from dataclasses import dataclass

import numpy as np

from .layout import CITY_LAYOUTS
from .materials import PALETTES

__all__ = ['SceneStyle', 'MIXED', 'draw_scene_style']

MIXED = 'mixed'  # a setting's value meaning "each scene draws its own"


@dataclass(frozen=True)
class SceneStyle:
    """The look of one scene.

    Attributes:
        city_layout: One of :data:`CITY_LAYOUTS`.
        clutter_density: Multiplies the street furniture and parked clutter (1: nominal).
        colour_palette: A key of :data:`PALETTES`.
    """

    city_layout: str
    clutter_density: float
    colour_palette: str

    def description(self) -> str:
        """E.g. 'suburban, clutter 1.12, pastel'."""
        return f'{self.city_layout}, clutter {self.clutter_density:.2f}, {self.colour_palette}'


def draw_scene_style(rng: np.random.Generator, city_layout: str, clutter_density,
                     colour_palette: str) -> SceneStyle:
    """One scene's style: a pinned setting is kept, an open one drawn.

    Every draw is made whether or not its setting is pinned, so pinning one setting leaves the
    others' draws as they are.

    Args:
        rng: The scene's style stream.
        city_layout: One of :data:`CITY_LAYOUTS`, or :data:`MIXED` (uniform over them).
        clutter_density: A number (pinned) or ``(low, high)`` (uniform in the range).
        colour_palette: A key of :data:`PALETTES`, or :data:`MIXED` (uniform over them).
    """
    layout = CITY_LAYOUTS[int(rng.integers(len(CITY_LAYOUTS)))]
    clutter = float(rng.random())
    palette = tuple(PALETTES)[int(rng.integers(len(PALETTES)))]
    if city_layout != MIXED:
        layout = city_layout
    if isinstance(clutter_density, tuple):
        low, high = clutter_density
        clutter = low + (high - low) * clutter
    else:
        clutter = float(clutter_density)
    if colour_palette != MIXED:
        palette = colour_palette
    return SceneStyle(layout, clutter, palette)
