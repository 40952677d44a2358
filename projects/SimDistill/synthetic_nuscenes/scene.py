"""One scene's world: its timeline, its streets, the ego's drive and the objects around it."""
import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Tuple, Union

import numpy as np

from .background import build_background
from .boxes import BoxState
from .catalog import KEY_FRAME_INTERVAL_US, LogSpec, log_start_us
from .config import SyntheticNuScenesConfig
from .geometry import RigidTransform, quaternion_from_yaw
from .layout import StreetLayout, build_layout
from .placement import ObjectTrack, clear_ego_path, place_objects
from .release import ScenePlan, plan_release
from .shapes import build_shape
from .solids import Solids, concatenate_solids
from .style import SceneStyle, draw_scene_style
from .taxonomy import OBJECT_CLASSES
from .trajectory import EgoTrajectory, sample_ego_motion

__all__ = [
    'SceneWorld', 'simulate_scene', 'scene_rng', 'stream_rng', 'scene_style',
    'KEY_FRAME_INTERVAL_US', 'ANNOTATION_RANGE'
]

ANNOTATION_RANGE = 80.0  # m: an object is annotated from the first to the last key frame
# at which it is this close to the ego


def stream_rng(seed: int, world_index: int, stream: str) -> np.random.Generator:
    """Independent random stream ``stream`` (e.g. 'world', 'lidar') of scene ``world_index`` of
    the world ``seed``."""
    words = [seed, world_index] + [ord(c) for c in stream]
    return np.random.default_rng(np.random.SeedSequence(words))


def scene_rng(config: SyntheticNuScenesConfig, scene_index: int, stream: str) -> \
        np.random.Generator:
    """Stream ``stream`` of scene ``scene_index`` of the world ``config.seed`` (every scene of
    a v1.0-mini release, the train scenes of a v1.0-trainval one; see :meth:`SceneWorld.rng`)."""
    return stream_rng(config.seed, scene_index, stream)


@dataclass(frozen=True)
class SceneWorld:
    """Everything that happens in one scene; times are µs since the Unix epoch.

    Attributes:
        index: Position in the release (``SCENES`` for v1.0-mini).
        name: Scene name, e.g. 'scene-0061'.
        log: The drive it was recorded in.
        key_timestamps: ``(K,)`` int64 key-frame (LiDAR) timestamps.
        sweep_timestamps: ``(K - 1, M)`` int64 timestamps of the sweeps between key frames k
            and k + 1.
        ego: The ego's drive, in seconds since ``key_timestamps[0]``.
        objects: The objects.
        spans: ``(n_objects, 2)`` first and last annotated key frame of every object.
        layout: The streets.
        background: Everything static that is not annotated (kerbs, buildings, trees, ...).
        style: The scene's street style.
        plan: What the release planned for it (split, world seed and index, ...).
    """

    index: int
    name: str
    log: LogSpec
    key_timestamps: np.ndarray
    sweep_timestamps: np.ndarray
    ego: EgoTrajectory
    objects: Tuple[ObjectTrack, ...]
    spans: np.ndarray
    layout: StreetLayout
    background: Solids
    style: SceneStyle
    plan: ScenePlan

    def __post_init__(self) -> None:
        shapes = [obj.shape for obj in self.objects]
        counts = [len(shape.centers) for shape in shapes]
        owner = np.repeat(np.arange(len(shapes)), counts)
        cat = (lambda f, d: np.concatenate([getattr(sh, f) for sh in shapes])
               if shapes else np.zeros(d))
        object.__setattr__(self, '_part_owner', owner)
        object.__setattr__(self, '_part_center', cat('centers', (0, 3)).reshape(-1, 3))
        object.__setattr__(self, '_part_size', cat('sizes_wlh', (0, 3)).reshape(-1, 3))
        object.__setattr__(self, '_part_material', cat('materials', 0).astype(np.int64))
        object.__setattr__(self, '_part_colour', cat('colours', (0, 3)).reshape(-1, 3))
        object.__setattr__(self, '_part_pattern', cat('patterns', 0).astype(np.int64))

    def rng(self, stream: str) -> np.random.Generator:
        """The scene's random stream ``stream``, from its own world."""
        return stream_rng(self.plan.seed, self.plan.world_index, stream)

    def solids(self, timestamp_us: int, boxes: BoxState = None) -> Solids:
        """Everything the sensors can hit at ``timestamp_us`` besides the ground: the objects'
        parts (first) and the background."""
        boxes = self.boxes(timestamp_us) if boxes is None else boxes
        owner = self._part_owner
        rot = boxes.rotations[owner]
        centers = boxes.centers[owner] + np.einsum('pij,pj->pi', rot, self._part_center)
        parts = Solids(centers, self._part_size, boxes.yaws[owner], boxes.class_ids[owner], owner,
                       self._part_material, self._part_colour, self._part_pattern)
        return concatenate_solids([parts, self.background])

    def seconds(self, timestamp_us) -> np.ndarray:
        """Scene time (s) of timestamps (µs)."""
        return (np.asarray(timestamp_us, dtype=np.int64) - self.key_timestamps[0]) * 1e-6

    def ego_pose(self, timestamp_us: int) -> RigidTransform:
        """Ego -> global transform at ``timestamp_us``; the ego frame's origin is on the ground."""
        t = self.seconds(timestamp_us)
        x, y = self.ego.position(t)
        return RigidTransform(
            quaternion_from_yaw(float(self.ego.heading(t))), np.array([x, y, 0.0]))

    def boxes(self, timestamp_us: int) -> BoxState:
        """All objects' boxes at ``timestamp_us``."""
        t = self.seconds(timestamp_us)
        return BoxState(
            centers=np.array([obj.center(t) for obj in self.objects]).reshape(-1, 3),
            sizes_wlh=np.array([obj.size_wlh for obj in self.objects]).reshape(-1, 3),
            yaws=np.array([obj.yaw for obj in self.objects]),
            class_ids=np.array([obj.class_id for obj in self.objects], dtype=np.int64))

    def annotated(self, key_frame: int) -> np.ndarray:
        """Indices of the objects annotated at key frame ``key_frame``."""
        return np.flatnonzero((self.spans[:, 0] <= key_frame) & (key_frame <= self.spans[:, 1]))

    def description(self) -> str:
        """Free text like the release's, e.g. 'Synthetic, suburban, clutter 1.12, pastel, left
        turn, ego 5.2 m/s, 12 car, ...'."""
        motion = self.ego.motion
        turn = 'straight road'
        if motion.turn_angle:
            turn = 'left turn' if motion.turn_angle > 0 else 'right turn'
        counts = Counter(OBJECT_CLASSES[obj.class_id].name for obj in self.objects)
        things = ', '.join(f'{n} {name}' for name, n in counts.most_common())
        return (f'Synthetic, {self.style.description()}, {turn}, ego {motion.speed:.1f} m/s, '
                f'{things}')


def _timeline(config: SyntheticNuScenesConfig, plan: ScenePlan,
              rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    start = (
        log_start_us(plan.log) + int(plan.log_offset_s * 1e6) + int(rng.integers(0, 1_000_000)))
    keys = start + KEY_FRAME_INTERVAL_US * np.arange(plan.samples, dtype=np.int64)
    m = config.sweeps_per_sample
    offsets = np.round(KEY_FRAME_INTERVAL_US * np.arange(1, m + 1) / (m + 1)).astype(np.int64)
    sweeps = keys[:-1, None] + offsets[None]
    return keys, sweeps.reshape(len(keys) - 1, m)


def _plan(config: SyntheticNuScenesConfig, scene: Union[int, ScenePlan]) -> ScenePlan:
    return scene if isinstance(scene, ScenePlan) else plan_release(config)[scene]


def simulate_scene(config: SyntheticNuScenesConfig, scene: Union[int, ScenePlan]) -> SceneWorld:
    """Builds a scene of the release: ``scene`` is its position in the release (``SCENES`` for
    v1.0-mini) or its plan. Deterministic in (world seed, world index, its place, time and
    length) and independent of the other scenes."""
    plan = _plan(config, scene)
    style = scene_style(config, plan)
    rng = stream_rng(plan.seed, plan.world_index, 'world')
    log = plan.log
    keys, sweeps = _timeline(config, plan, rng)
    duration = (len(keys) - 1) * KEY_FRAME_INTERVAL_US * 1e-6
    start_xy = np.asarray(plan.start_xy) + rng.uniform(-40.0, 40.0, 2)
    motion = sample_ego_motion(rng, start_xy, duration, log.drive_side)
    ego = EgoTrajectory(motion, -0.1, duration + 0.1)
    layout = _street_layout(style, plan, motion, duration, log.drive_side)
    background = clear_ego_path(
        build_background(
            stream_rng(plan.seed, plan.world_index, 'background'), layout,
            layout.to_grid(ego.position(np.arange(-0.1, duration + 0.2, 0.5))),
            style.clutter_density), ego, duration)
    objects = place_objects(rng, ego, duration, layout, background)
    shape_rng = stream_rng(plan.seed, plan.world_index, 'shapes')
    objects = tuple(
        dataclasses.replace(
            obj,
            shape=build_shape(shape_rng, OBJECT_CLASSES[obj.class_id].name, obj.size_wlh,
                              obj.attribute == 'cycle.with_rider', style.colour_palette))
        for obj in objects)
    key_t = (keys - keys[0]) * 1e-6
    ego_xy = ego.position(key_t)
    spans = np.zeros((len(objects), 2), dtype=np.int64)
    for i, obj in enumerate(objects):
        near = np.flatnonzero(
            np.linalg.norm(obj.center(key_t)[:, :2] - ego_xy, axis=1) <= ANNOTATION_RANGE)
        spans[i] = near[0], near[-1]  # placement keeps every object within 50 m once
    return SceneWorld(plan.index, plan.name, log, keys, sweeps, ego, objects, spans, layout,
                      background, style, plan)


def scene_style(config: SyntheticNuScenesConfig, scene: Union[int, ScenePlan]) -> SceneStyle:
    """A scene's street style (``scene`` as for :func:`simulate_scene`): the settings where
    they pin one, else drawn from the scene's own stream (so the other streams, and with every
    setting pinned the whole scene, are as without the mix)."""
    plan = _plan(config, scene)
    return draw_scene_style(
        stream_rng(plan.seed, plan.world_index, 'style'), config.city_layout,
        config.clutter_density, config.colour_palette)


def _street_layout(style: SceneStyle, plan: ScenePlan, motion, duration: float,
                   drive_side: int) -> StreetLayout:
    """The streets around a drive: the main road along its start, and the crossing road its
    turn (if any) ends on."""
    rng = stream_rng(plan.seed, plan.world_index, 'layout')
    end = max(duration, motion.turn_start + motion.turn_duration) + 1.0
    drive = EgoTrajectory(motion, -0.1, end)
    origin = np.asarray(motion.start_xy)
    heading = motion.start_heading
    rot = np.array([[np.cos(heading), np.sin(heading)], [-np.sin(heading), np.cos(heading)]])
    path_uv = (drive.position(np.arange(-0.1, duration + 0.2, 0.25)) - origin) @ rot.T
    turn_end = None
    if motion.turn_angle:
        turn_end = (drive.position(motion.turn_start + motion.turn_duration) - origin) @ rot.T
    ego_lane = int(rng.integers(2)) if style.city_layout == 'downtown' else 0
    # The ground texture's seed: distinct for every (world, scene) as world indices stay < 1009.
    return build_layout(rng, style.city_layout, style.colour_palette, drive_side,
                        plan.seed * 1009 + plan.world_index, origin, heading, path_uv, ego_lane,
                        turn_end, int(np.sign(motion.turn_angle)))
