"""User-facing settings of the synthetic nuScenes generator, validated on construction."""
import dataclasses
from dataclasses import dataclass
import numbers
from typing import Optional, Tuple, Union

from .catalog import MINI_VERSION, TRAINVAL_VERSION, VERSIONS
from .layout import CITY_LAYOUTS
from .materials import PALETTES
from .style import MIXED

__all__ = ['SyntheticNuScenesConfig', 'TRAINVAL_FIELDS', 'BENCHMARK_TRAIN_SCENES',
           'BENCHMARK_VAL_SCENES']

# The settings of a v1.0-trainval release only; a v1.0-mini config leaves them None.
TRAINVAL_FIELDS = ('train_scenes', 'val_scenes', 'val_seed', 'val_samples_per_scene')
# v1.0-trainval's default size: the benchmark release, chosen by tools/benchmarks/trainval_size.py
# from measured objects per scene and class (README, "A release that can measure").
BENCHMARK_TRAIN_SCENES = 52
BENCHMARK_VAL_SCENES = 32
_SEED_LIMIT = 2**32  # trainval seeds are one 32-bit word each (see ``release``)


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
        version: The release: 'v1.0-mini' (the 10 mini scenes, one world from ``seed``) or
            'v1.0-trainval' (scenes named from the devkit's train and val lists).
        train_scenes: v1.0-trainval only: how many scenes of the devkit's ``train`` list
            (default :data:`BENCHMARK_TRAIN_SCENES`, at most 700).
        val_scenes: v1.0-trainval only: how many of its ``val`` list (default
            :data:`BENCHMARK_VAL_SCENES`, at most 150).
        val_seed: v1.0-trainval only: world seed of the val scenes (default ``seed + 1``; must
            differ from ``seed``), so no val scene's world is a training world. Tokens still
            come from ``seed``.
        val_samples_per_scene: v1.0-trainval only: key frames per val scene (default
            ``samples_per_scene``).
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
    version: str = MINI_VERSION
    train_scenes: Optional[int] = None
    val_scenes: Optional[int] = None
    val_seed: Optional[int] = None
    val_samples_per_scene: Optional[int] = None

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
        if self.version not in VERSIONS:
            raise ValueError(f'version must be one of {VERSIONS}, got {self.version!r}')
        if self.version == TRAINVAL_VERSION:
            self._resolve_trainval()
        else:
            for field in TRAINVAL_FIELDS:
                if getattr(self, field) is not None:
                    raise ValueError(f'{field} applies to version {TRAINVAL_VERSION} only; '
                                     f'{self.version} has its fixed scenes')

    def _resolve_trainval(self) -> None:
        """Fills the trainval settings left None with their defaults and checks them."""
        defaults = dict(train_scenes=BENCHMARK_TRAIN_SCENES, val_scenes=BENCHMARK_VAL_SCENES,
                        val_samples_per_scene=self.samples_per_scene)
        if isinstance(self.seed, numbers.Integral) and not isinstance(self.seed, bool):
            defaults['val_seed'] = self.seed + 1
        for field, default in defaults.items():
            if getattr(self, field) is None:
                object.__setattr__(self, field, default)
        _check_int('train_scenes', self.train_scenes, 1, 700)
        _check_int('val_scenes', self.val_scenes, 1, 150)
        _check_int('val_samples_per_scene', self.val_samples_per_scene, 1, 1000)
        # Each scene stream is seeded by the words (seed, scene index, stream name): with both
        # seeds one word each and different, no val stream is a train stream.
        _check_int('seed', self.seed, 0, _SEED_LIMIT - 1)
        _check_int('val_seed', self.val_seed, 0, _SEED_LIMIT - 1)
        if self.val_seed == self.seed:
            raise ValueError(f'val_seed must differ from seed ({self.seed}): the val scenes '
                             'must come from a world never used for training')

    def record(self) -> dict:
        """The settings as the release's marker file records them (JSON types); a v1.0-mini
        record has the fields it always had, so its marker is as before."""
        record = dataclasses.asdict(self)
        if self.version == MINI_VERSION:
            for field in ('version', ) + TRAINVAL_FIELDS:
                del record[field]
        return record

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
