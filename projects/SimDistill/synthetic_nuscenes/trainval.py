"""The v1.0-trainval layout: scene names from the devkit's own ``train``/``val`` lists, spread
over the four map locations, grouped into logs.

Where a scene sits depends only on its split and its position ``k`` in that split's list, never
on how many scenes the other split has: a val set stays the same when the training set grows.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Tuple

from .catalog import LogSpec

__all__ = ['SPLITS', 'LOCATION_CYCLE', 'SCENES_PER_LOG', 'split_scene_names', 'TrainvalSlot',
           'trainval_slot']

SPLITS = ('train', 'val')
# Scene k of a split is recorded in LOCATION_CYCLE[k % 6]: half in Boston (one map, as in the real
# release), the other half over the three Singapore maps.
LOCATION_CYCLE = ('boston-seaport', 'singapore-onenorth', 'boston-seaport',
                  'singapore-queenstown', 'boston-seaport', 'singapore-hollandvillage')
SCENES_PER_LOG = 10
_VEHICLE = {'boston': ('n008', '-0400'), 'singapore': ('n015', '+0800')}
_FIRST_DAY = datetime(2018, 7, 16, 9, 0, 0)


def split_scene_names(split: str) -> Tuple[str, ...]:
    """The devkit's scene names of ``split`` ('train': 700, 'val': 150), in its order."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    try:
        from nuscenes.utils import splits
    except ImportError as error:
        raise ImportError('v1.0-trainval takes its scene names from nuscenes-devkit '
                          '(nuscenes.utils.splits); install nuscenes-devkit') from error
    return tuple(getattr(splits, split))


@dataclass(frozen=True)
class TrainvalSlot:
    """Where and when one v1.0-trainval scene is recorded.

    Attributes:
        log: Its drive.
        log_slot: How many scenes of that log come before it.
        cell: Its grid cell at the log's location (``catalog.location_xy``).
    """

    log: LogSpec
    log_slot: int
    cell: int


def trainval_slot(split: str, k: int) -> TrainvalSlot:
    """Log, place in the log and grid cell of scene ``k`` of ``split``.

    A log holds scenes of one split only (SCENES_PER_LOG of them, one after the other); train
    scenes take the even grid cells of their location and val scenes the odd ones, so the two
    never share a log, a time or a place.
    """
    if split not in SPLITS or k < 0:
        raise ValueError(f'no scene {k} of split {split!r}')
    location = LOCATION_CYCLE[k % len(LOCATION_CYCLE)]
    per_cycle = LOCATION_CYCLE.count(location)
    rank = (k // len(LOCATION_CYCLE)) * per_cycle + LOCATION_CYCLE[:k % len(LOCATION_CYCLE)].count(
        location)  # scenes of this split recorded at this location before scene k
    number = rank // SCENES_PER_LOG
    city = location.split('-')[0]
    vehicle, utc_offset = _VEHICLE[city]
    # One log a day per (location, split); the locations of a city start at other hours, so
    # every log name is unique.
    place = sorted({name for name in LOCATION_CYCLE if name.startswith(city)}).index(location)
    start = _FIRST_DAY + timedelta(days=2 * number + SPLITS.index(split), hours=2 * place,
                                   minutes=(17 * number + 23 * place + 11) % 60,
                                   seconds=(37 * number + 29 * place + 7) % 60)
    logfile = f'{vehicle}-{start:%Y-%m-%d-%H-%M-%S}{utc_offset}'
    return TrainvalSlot(LogSpec(logfile, location), rank % SCENES_PER_LOG,
                        2 * rank + SPLITS.index(split))
