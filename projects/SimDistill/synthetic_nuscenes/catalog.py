"""Embedded release layout: the v1.0-mini scene names, their logs and the map locations (the
v1.0-trainval layout is ``trainval``'s)."""
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    'VERSION', 'MINI_VERSION', 'TRAINVAL_VERSION', 'VERSIONS', 'LogSpec', 'LOGS', 'SCENES',
    'MINI_VAL', 'LOCATIONS', 'KEY_FRAME_INTERVAL_US', 'log_start_us', 'scene_start_xy',
    'location_xy', 'log_offset_s'
]

MINI_VERSION = 'v1.0-mini'
TRAINVAL_VERSION = 'v1.0-trainval'
VERSIONS = (MINI_VERSION, TRAINVAL_VERSION)
VERSION = MINI_VERSION  # the default release
KEY_FRAME_INTERVAL_US = 500_000  # key frames at 2 Hz


@dataclass(frozen=True)
class LogSpec:
    """One drive (``log`` record).

    Attributes:
        logfile: nuScenes log name, ``<vehicle>-<YYYY-MM-DD-hh-mm-ss><UTC offset>``; it also
            prefixes every sensor file name.
        location: Map location, one of :data:`LOCATIONS`.
    """

    logfile: str
    location: str

    @property
    def vehicle(self) -> str:
        return self.logfile.split('-')[0]

    @property
    def date_captured(self) -> str:
        return self.logfile[5:15]

    @property
    def drive_side(self) -> int:
        """+1 where traffic keeps right (Boston), -1 where it keeps left (Singapore)."""
        return 1 if self.location.startswith('boston') else -1


LOGS = (
    LogSpec('n015-2018-07-24-11-22-45+0800', 'singapore-onenorth'),
    LogSpec('n008-2018-08-01-15-16-36-0400', 'boston-seaport'),
    LogSpec('n008-2018-08-28-16-43-51-0400', 'boston-seaport'),
    LogSpec('n015-2018-10-02-10-50-40+0800', 'singapore-queenstown'),
    LogSpec('n008-2018-08-30-15-16-55-0400', 'boston-seaport'),
    LogSpec('n015-2018-10-08-15-36-50+0800', 'singapore-queenstown'),
    LogSpec('n015-2018-11-21-19-38-26+0800', 'singapore-hollandvillage'),
)

# (scene name, index into LOGS); the names are v1.0-mini's, so the devkit's mini_train/mini_val
# splits (mini_val = scene-0103, scene-0916) apply unchanged.
SCENES = (
    ('scene-0061', 0),
    ('scene-0103', 1),
    ('scene-0553', 2),
    ('scene-0655', 3),
    ('scene-0757', 4),
    ('scene-0796', 5),
    ('scene-0916', 5),
    ('scene-1077', 6),
    ('scene-1094', 6),
    ('scene-1100', 6),
)
MINI_VAL = ('scene-0103', 'scene-0916')  # the devkit's mini_val; the other 8 are mini_train

# Location -> global (x, y) of its first drive in metres: like the real maps, poses lie a few
# hundred metres from the map origin. The scenes of one location sit on a grid of SCENE_SPACING
# cells, GRID_COLUMNS along x (v1.0-mini needs one row), so that what their sensors see and their
# map masks never overlap.
LOCATIONS = {
    'singapore-onenorth': (215.0, 205.0),
    'boston-seaport': (205.0, 215.0),
    'singapore-queenstown': (210.0, 210.0),
    'singapore-hollandvillage': (200.0, 200.0),
}
SCENE_SPACING = 450.0  # m
GRID_COLUMNS = 8


def location_xy(location: str, cell: int) -> tuple:
    """Nominal global (x, y) in metres of grid cell ``cell`` (0, 1, ...) of ``location``."""
    x, y = LOCATIONS[location]
    return x + SCENE_SPACING * (cell % GRID_COLUMNS), y + SCENE_SPACING * (cell // GRID_COLUMNS)


def scene_start_xy(scene_index: int) -> tuple:
    """Nominal global (x, y) of the ego at the start of v1.0-mini scene ``scene_index``
    (metres): the next free cell of its location."""
    location = LOGS[SCENES[scene_index][1]].location
    rank = sum(1 for _, log in SCENES[:scene_index] if LOGS[log].location == location)
    return location_xy(location, rank)


def log_offset_s(slot: int, samples_per_scene: int) -> float:
    """Nominal start (s after the log's start) of the ``slot``-th scene of a log whose scenes
    have ``samples_per_scene`` key frames: each scene ends at least 20 s before the next begins
    (the scene's own start adds up to 1 s), so scenes of one log never overlap in time."""
    scene_length_s = (samples_per_scene - 1) * KEY_FRAME_INTERVAL_US * 1e-6
    gap_s = max(40.0, scene_length_s + 20.0)
    return 60 + slot * gap_s


def log_start_us(log: LogSpec) -> int:
    """Unix time of the log's start in microseconds, read from its name."""
    stamp = datetime.strptime(log.logfile[5:], '%Y-%m-%d-%H-%M-%S%z')
    return int(stamp.timestamp()) * 1_000_000
