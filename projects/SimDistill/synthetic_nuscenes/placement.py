"""Places a scene's objects on its streets: vehicles in lanes and parking strips, pedestrians on
sidewalks and crossings, cones and barriers by roadworks; each static or moving at a constant
velocity, none ever overlapping another, the ego car or the background."""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .layout import StreetLayout
from .rig import EGO_CENTER_X, EGO_LENGTH, EGO_WIDTH
from .shapes import ObjectShape
from .solids import Solids
from .taxonomy import CLASS_NAMES, OBJECT_CLASSES, ObjectClass
from .trajectory import EgoTrajectory

__all__ = ['ObjectTrack', 'place_objects', 'clear_ego_path', 'MAX_PATH_DISTANCE']

MAX_PATH_DISTANCE = 50.0  # every object comes this close (m) to the ego at some key frame
MIN_OBJECTS, MAX_OBJECTS = 15, 40  # per scene
LANE_WIDTH = 3.5  # m
_EGO_CLEARANCE = 0.5  # m kept free around the ego car
_OBJECT_CLEARANCE = 0.25  # m kept free around each object (so 0.5 m between two objects)
_CHECK_STEP = 0.02  # s between two overlap checks; 25 m/s closing speed moves 0.5 m in it
_MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class ObjectTrack:
    """An object moving at constant velocity (zero for static ones) on the ground plane.

    Attributes:
        class_id: Index into ``OBJECT_CLASSES``.
        category: nuScenes category name.
        size_wlh: ``(3,)`` width, length, height in metres.
        start_xy: Global xy of the box centre at t = 0 ``(2,)`` metres.
        velocity_xy: ``(2,)`` m/s.
        yaw: Heading of the box's length axis (radians); along the velocity when moving.
        attribute: nuScenes attribute name, None for barriers and cones.
        shape: Its parts (None until built).
    """

    class_id: int
    category: str
    size_wlh: np.ndarray
    start_xy: np.ndarray
    velocity_xy: np.ndarray
    yaw: float
    attribute: Optional[str]
    shape: Optional[ObjectShape] = None

    @property
    def is_moving(self) -> bool:
        return bool(np.any(self.velocity_xy != 0.0))

    def center(self, t) -> np.ndarray:
        """Global box centre at times ``t`` (s), shape ``t.shape + (3,)``; it rests on the
        ground (z = 0), so z is half the height."""
        t = np.asarray(t, dtype=np.float64)[..., None]
        xy = self.start_xy + t * self.velocity_xy
        z = np.full(xy.shape[:-1] + (1, ), 0.5 * self.size_wlh[2])
        return np.concatenate([xy, z], axis=-1)


def rectangles_overlap(c1, yaw1, half1, c2, yaw2, half2) -> np.ndarray:
    """Separating-axis test of ground rectangles, broadcast over leading dimensions.

    Args:
        c1, c2: Centres ``(..., 2)`` metres.
        yaw1, yaw2: Headings of the length axes ``(...)`` radians.
        half1, half2: Half length and half width ``(..., 2)`` metres.

    Returns:
        ``(...)`` bool, True where the rectangles overlap.
    """
    u1 = np.stack([np.cos(yaw1), np.sin(yaw1)], -1)
    u2 = np.stack([np.cos(yaw2), np.sin(yaw2)], -1)
    v1, v2 = u1[..., ::-1] * [-1, 1], u2[..., ::-1] * [-1, 1]
    d = np.asarray(c2) - np.asarray(c1)
    separated = np.zeros(np.broadcast(d[..., 0], u1[..., 0], u2[..., 0]).shape, dtype=bool)
    for axis in (u1, v1, u2, v2):

        def reach(u, v, half):
            return (half[..., 0] * np.abs(np.sum(axis * u, -1)) +
                    half[..., 1] * np.abs(np.sum(axis * v, -1)))

        gap = np.abs(np.sum(axis * d, -1)) - reach(u1, v1, half1) - reach(u2, v2, half2)
        separated |= gap > 0
    return ~separated


class _Placer:
    """Rejection sampler holding the objects placed so far, sampled over the check times."""

    def __init__(self, rng: np.random.Generator, ego: EgoTrajectory, duration: float,
                 layout: StreetLayout, background: Solids) -> None:
        self.rng, self.ego, self.duration, self.layout = rng, ego, duration, layout
        self.background = background
        self._bg_radius = 0.5 * np.linalg.norm(background.sizes_wlh[:, :2], axis=1)
        self._bg_half = 0.5 * background.sizes_wlh[:, [1, 0]]
        # Camera exposures lie a few ms outside [0, duration]; cover them too.
        self.times = np.arange(-0.05, duration + 0.05 + _CHECK_STEP, _CHECK_STEP)
        heading = ego.heading(self.times)
        self.ego_xy = ego.position(self.times)
        forward = np.stack([np.cos(heading), np.sin(heading)], -1)
        self.ego_center = self.ego_xy + EGO_CENTER_X * forward
        self.ego_yaw = heading
        self.ego_half = np.array([EGO_LENGTH / 2, EGO_WIDTH / 2]) + _EGO_CLEARANCE
        self.key_times = np.arange(0.0, duration + 1e-9, 0.5)
        path_uv = layout.to_grid(ego.position(self.key_times))
        self.roads = [
            r for r in layout.roads
            if np.min(np.abs(path_uv[:, 1 - r.axis] - r.offset)) < MAX_PATH_DISTANCE - 10.0
        ]
        self.ego_roads = [
            r for r in self.roads if np.min(np.abs(path_uv[:, 1 - r.axis] - r.offset)) < 12.0
        ]
        self.tracks: List[ObjectTrack] = []
        self._centers = np.zeros((0, len(self.times), 2))
        self._yaws = np.zeros((0, ))
        self._halves = np.zeros((0, 2))

    def fits(self, track: ObjectTrack) -> bool:
        key_xy = track.center(self.key_times)[:, :2]
        if np.min(np.linalg.norm(key_xy - self.ego.position(self.key_times), axis=1)) > \
                MAX_PATH_DISTANCE:
            return False
        xy = track.center(self.times)[:, :2]
        half = 0.5 * track.size_wlh[[1, 0]] + _OBJECT_CLEARANCE
        if np.any(
                rectangles_overlap(xy, track.yaw, half, self.ego_center, self.ego_yaw,
                                   self.ego_half)):
            return False
        if len(self.tracks) and np.any(
                rectangles_overlap(xy[None], track.yaw, half, self._centers, self._yaws[:, None],
                                   self._halves[:, None])):
            return False
        return not self._hits_background(track, xy, half)

    def _hits_background(self, track: ObjectTrack, xy: np.ndarray, half: np.ndarray) -> bool:
        """Whether the object's box meets a background solid at any check time (the ground
        rectangles overlap and so do the height intervals)."""
        if not track.is_moving:
            xy = xy[:1]
        mid = 0.5 * (xy[0] + xy[-1])
        reach = 0.5 * np.linalg.norm(xy[-1] - xy[0]) + np.linalg.norm(half)
        bg = self.background
        near = np.flatnonzero(
            (np.linalg.norm(bg.centers[:, :2] - mid, axis=1) <= reach + self._bg_radius)
            & (bg.bottoms < track.size_wlh[2]))
        if not len(near):
            return False
        return bool(
            np.any(
                rectangles_overlap(xy[None], track.yaw, half, bg.centers[near, None, :2],
                                   bg.yaws[near, None], self._bg_half[near, None])))

    def add(self, track: ObjectTrack) -> None:
        self.tracks.append(track)
        self._centers = np.concatenate([self._centers, track.center(self.times)[None, :, :2]])
        self._yaws = np.append(self._yaws, track.yaw)
        half = 0.5 * track.size_wlh[[1, 0]] + _OBJECT_CLEARANCE
        self._halves = np.concatenate([self._halves, half[None]])

    def propose(self, class_id: int, near_ego: bool = False) -> ObjectTrack:
        """A random track of class ``class_id``; ``near_ego``: on a road the ego drives along,
        within a few tens of metres of it (where the sensors see it)."""
        rng, cls, layout = self.rng, OBJECT_CLASSES[class_id], self.layout
        variant = cls.variants[rng.choice(
            len(cls.variants), p=[v.probability for v in cls.variants])]
        size = np.asarray(variant.size_wlh) * np.clip(rng.normal(1.0, 0.06, 3), 0.86, 1.14)
        previous = self.tracks[-1] if self.tracks else None
        if (cls.name in ('barrier', 'traffic_cone') and previous is not None
                and previous.class_id == class_id and rng.random() < 0.65):
            return self._continue_row(previous, variant.category, size)
        moving = rng.random() < cls.moving_probability
        speed = rng.uniform(*cls.speed_range) if moving else 0.0
        # A road near a random point of the ego's drive, and a spot along it.
        roads = self.ego_roads if near_ego else self.roads
        road = roads[rng.integers(len(roads))]
        tau = rng.uniform(0.0, self.duration)
        along = layout.to_grid(self.ego.position(tau))[road.axis] + (
            rng.uniform(-15.0, 30.0) if near_ego else rng.uniform(-40.0, 45.0))
        side = float(rng.choice([-1.0, 1.0]))
        half = road.half_width
        direction = int(rng.choice([-1, 1]))
        cross_heading = False
        if cls.name in ('barrier', 'traffic_cone'):  # roadworks along a kerb or on a sidewalk
            if rng.random() < 0.7:
                lateral = side * (half - rng.uniform(0.4, 1.8))
            else:
                lateral = side * (half + rng.uniform(1.6, max(road.sidewalk_width - 0.4, 1.7)))
            role = 'roadside'
        elif cls.name == 'pedestrian':
            crossings = [o for o in layout.roads if o.axis != road.axis]
            if moving and crossings and rng.random() < 0.3:  # on a zebra crossing
                other = min(crossings, key=lambda o: abs(o.offset - along))
                along = other.offset + side * (other.half_width + rng.uniform(
                    0.8, max(other.sidewalk_width - 0.8, 0.9)))
                lateral = rng.uniform(-half, half)
                cross_heading = True
                role = 'crossing'
            else:  # the walking zone of a sidewalk, beyond the street furniture
                lateral = side * (half + rng.uniform(1.8, max(road.sidewalk_width - 0.4, 1.9)))
                role = 'sidewalk'
        elif cls.name == 'bicycle' and moving:  # along the kerb of the outermost lane
            lane = road.lanes - 1
            lateral = layout.lane_offset(road, direction, lane) + np.sign(
                layout.lane_offset(road, direction, lane)) * 0.9
            role = 'lane'
        elif moving or (cls.attribute_group == 'vehicle' and rng.random() < 0.3):
            lane = int(rng.integers(road.lanes))
            lateral = layout.lane_offset(road, direction, lane) + rng.normal(0.0, 0.2)
            role = 'lane'
        elif cls.name in ('bicycle', 'motorcycle') and rng.random() < 0.5:
            lateral = side * (half + rng.uniform(1.6, max(road.sidewalk_width - 0.4, 1.7)))
            role = 'parked'
        else:  # parked along a kerb, facing the traffic of that side
            if road.parking_width > 0:
                lateral = side * (half - 0.5 * road.parking_width)
            else:
                lateral = side * (half - 0.5 * size[0] - 0.3)
            direction = 1 if np.sign(layout.lane_offset(road, 1, 0)) == side else -1
            role = 'parked'
        heading = layout.road_heading(road, direction)
        if cross_heading:
            heading += np.pi / 2
        elif role == 'sidewalk':
            heading += rng.normal(0.0, 0.15)
        heading += rng.normal(0.0, 0.03)
        uv = np.zeros(2)
        uv[road.axis], uv[1 - road.axis] = along, road.offset + lateral
        start = layout.to_global(uv)
        velocity = speed * np.array([np.cos(heading), np.sin(heading)])
        yaw = heading
        if cls.name == 'barrier':
            yaw = heading + np.pi / 2  # its long side (the width) along the road
        elif not moving and cls.name in ('pedestrian', 'traffic_cone'):
            yaw = rng.uniform(-np.pi, np.pi)
        # Position at t = 0 such that it is at `start` at time tau.
        return ObjectTrack(class_id, variant.category, size, start - tau * velocity, velocity,
                           float(np.arctan2(np.sin(yaw), np.cos(yaw))),
                           self._attribute(cls, moving, role))

    def _continue_row(self, previous: ObjectTrack, category: str, size: np.ndarray) -> ObjectTrack:
        rng = self.rng
        if OBJECT_CLASSES[previous.class_id].name == 'barrier':
            # Barriers stand side by side along their width (the box's y axis).
            axis = previous.yaw + np.pi / 2
            spacing = 0.5 * (previous.size_wlh[0] + size[0]) + rng.uniform(0.15, 0.6)
        else:
            axis = previous.yaw
            spacing = rng.uniform(1.5, 4.0)
        start = previous.start_xy + spacing * np.array([np.cos(axis), np.sin(axis)])
        yaw = previous.yaw + rng.normal(0.0, 0.04)
        return ObjectTrack(previous.class_id, category, size, start, np.zeros(2), float(yaw), None)

    def _attribute(self, cls: ObjectClass, moving: bool, role: str) -> Optional[str]:
        rng = self.rng
        if cls.attribute_group == 'vehicle':
            if moving:
                return 'vehicle.moving'
            return 'vehicle.stopped' if role == 'lane' else 'vehicle.parked'
        if cls.attribute_group == 'cycle':
            with_rider = moving or rng.random() < 0.2
            return 'cycle.with_rider' if with_rider else 'cycle.without_rider'
        if cls.attribute_group == 'pedestrian':
            if moving:
                return 'pedestrian.moving'
            return 'pedestrian.standing' if rng.random() < 0.85 else \
                'pedestrian.sitting_lying_down'
        return None


def clear_ego_path(background: Solids, ego: EgoTrajectory, duration: float) -> Solids:
    """The background without the solids that the ego car would drive into (with a margin),
    e.g. a kerb's corner cut by a turn."""
    times = np.arange(-0.2, duration + 0.3, 0.1)
    heading = ego.heading(times)
    centre = ego.position(times) + EGO_CENTER_X * np.stack([np.cos(heading), np.sin(heading)], -1)
    ego_half = np.array([EGO_LENGTH / 2, EGO_WIDTH / 2]) + 2 * _EGO_CLEARANCE
    half = 0.5 * background.sizes_wlh[:, [1, 0]]
    hit = rectangles_overlap(background.centers[:, None, :2], background.yaws[:, None],
                             half[:, None], centre[None], heading[None], ego_half)
    return background.select(~np.any(hit, axis=1) | (background.bottoms > 2.5))


def place_objects(rng: np.random.Generator, ego: EgoTrajectory, duration: float,
                  layout: StreetLayout, background: Solids) -> List[ObjectTrack]:
    """Draws 15-40 objects, one per class and the rest by class frequency, placed by rejection
    sampling.

    Args:
        rng: Random source.
        ego: The ego's drive.
        duration: Time from the first to the last key frame (s).
        layout: The streets they are placed on.
        background: What they must not overlap besides each other and the ego.

    Returns:
        The placed objects, MIN_OBJECTS or more unless the road is packed; an object that found
        no free spot in many attempts is left out.
    """
    count = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
    weights = np.array([cls.frequency for cls in OBJECT_CLASSES])
    class_ids = list(range(len(OBJECT_CLASSES)))
    class_ids += list(
        rng.choice(len(OBJECT_CLASSES), count - len(class_ids), p=weights / weights.sum()))
    # Large objects first: they are the hardest to fit. Equal classes stay together so that
    # barriers and cones can form rows.
    area = [np.prod(OBJECT_CLASSES[c].variants[0].size_wlh[:2]) for c in class_ids]
    order = sorted(range(count), key=lambda i: (-area[i], class_ids[i]))
    placer = _Placer(rng, ego, duration, layout, background)
    for i in order:
        # The first object of each class goes near the ego's road, so that every class is seen.
        first_of_class = i < len(OBJECT_CLASSES)
        for _ in range(3 * _MAX_ATTEMPTS if first_of_class else _MAX_ATTEMPTS):
            track = placer.propose(int(class_ids[i]), near_ego=first_of_class)
            if placer.fits(track):
                placer.add(track)
                break
    # Top up with small objects if large ones found no room.
    for _ in range(_MAX_ATTEMPTS * MIN_OBJECTS):
        if len(placer.tracks) >= MIN_OBJECTS:
            break
        track = placer.propose(
            int(rng.choice([CLASS_NAMES.index('pedestrian'),
                            CLASS_NAMES.index('traffic_cone')])))
        if placer.fits(track):
            placer.add(track)
    return placer.tracks
