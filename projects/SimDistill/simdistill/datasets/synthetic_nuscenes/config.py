"""User-facing settings of the synthetic nuScenes generator, validated on construction."""
from dataclasses import dataclass
import numbers
from typing import Tuple, Union

from .layout import CITY_LAYOUTS
from .materials import PALETTES
from .style import MIXED

__all__ = ['SyntheticNuScenesConfig']


def _check_int(name: str, value: object, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{name} must be an integer, got {value!r}')
    if not minimum <= value <= maximum:
        raise ValueError(f'{name} must be in [{minimum}, {maximum}], got {value}')


def _check_float(name: str, value: object, minimum: float, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f'{name} must be a number, got {value!r}')
    if not minimum < value <= maximum:
        raise ValueError(f'{name} must be in ({minimum}, {maximum}], got {value}')


@dataclass(frozen=True)
class SyntheticNuScenesConfig:
    """What to generate; everything else (scene names, rig, classes) is fixed.

    Attributes:
        samples_per_scene: Key frames (``sample`` records) per scene, 2 Hz apart.
        image_scale: Camera resolution as a fraction of nuScenes' 1600x900; the intrinsics are
            scaled by the same factor.
        seed: Seed of every random choice and of every token.
        sweeps_per_sample: Non-key LIDAR_TOP sweeps between two key frames (real nuScenes: 9).
        azimuth_step_deg: Horizontal angle between two LiDAR firings of one beam (degrees).
        jpeg_quality: JPEG quality of the camera images (1-95).
        city_layout: Street style: 'downtown' (a regular grid of blocks, tall buildings at the
            sidewalk, two-lane roads), 'suburban' (irregular blocks, low houses behind lawns,
            narrower roads) or 'mixed' (each scene draws one of them from the seed).
        clutter_density: Multiplies how much street furniture (trees, poles, signs, bins) and
            parked clutter there is (1: nominal): a number pins every scene to it, a
            ``(low, high)`` pair lets each scene draw its own uniformly from the range.
        colour_palette: Paints of vehicles and clothes and colours of facades: 'standard',
            'pastel' or 'mixed' (each scene draws one).
    """

    samples_per_scene: int = 20
    image_scale: float = 0.25
    seed: int = 0
    sweeps_per_sample: int = 3
    azimuth_step_deg: float = 0.4
    jpeg_quality: int = 90
    city_layout: str = MIXED
    clutter_density: Union[float, Tuple[float, float]] = (0.6, 1.3)
    colour_palette: str = MIXED

    def __post_init__(self) -> None:
        _check_int('samples_per_scene', self.samples_per_scene, 1, 1000)
        _check_float('image_scale', self.image_scale, 0.0, 2.0)
        if round(900 * self.image_scale) < 8:
            raise ValueError(f'image_scale={self.image_scale} gives images smaller than 8 pixels '
                             'high; use at least 0.01')
        _check_int('seed', self.seed, 0, 2**63 - 1)
        _check_int('sweeps_per_sample', self.sweeps_per_sample, 0, 49)
        _check_float('azimuth_step_deg', self.azimuth_step_deg, 0.0, 10.0)
        if self.azimuth_step_deg < 0.05:
            raise ValueError(
                f'azimuth_step_deg must be at least 0.05, got {self.azimuth_step_deg}')
        _check_int('jpeg_quality', self.jpeg_quality, 1, 95)
        layouts = CITY_LAYOUTS + (MIXED, )
        if self.city_layout not in layouts:
            raise ValueError(f'city_layout must be one of {layouts}, got {self.city_layout!r}')
        self._check_clutter()
        palettes = tuple(PALETTES) + (MIXED, )
        if self.colour_palette not in palettes:
            raise ValueError(
                f'colour_palette must be one of {palettes}, got {self.colour_palette!r}')

    def _check_clutter(self) -> None:
        value = self.clutter_density
        if isinstance(value, (list, tuple)):  # a range; JSON gives it back as a list
            if len(value) != 2:
                raise ValueError(f'clutter_density must be a number or a (low, high) pair, got '
                                 f'{value!r}')
            value = tuple(value)
            object.__setattr__(self, 'clutter_density', value)
        for bound in (value if isinstance(value, tuple) else (value, )):
            _check_float('clutter_density', bound, 0.0, 4.0)
            if bound < 0.1:
                raise ValueError(f'clutter_density must be at least 0.1, got {value}')
        if isinstance(value, tuple) and not value[0] < value[1]:
            raise ValueError(f'clutter_density range must have low < high, got {value}')

    @property
    def image_size(self) -> tuple:
        """Camera image size ``(width, height)`` in pixels."""
        return round(1600 * self.image_scale), round(900 * self.image_scale)
