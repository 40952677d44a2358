"""Generates a whole release: simulates each scene, writes its sensor files and records, then
moves the finished folder into place."""
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from simdistill.utils.atomic import replace_path
from simdistill.datasets.nuscenes_stats import SplitStats, count_objects, format_table
from .camera import CameraRenderer, sample_lighting, save_jpeg
from .config import SyntheticNuScenesConfig
from .geometry import quaternion_from_yaw
from .lidar import LidarCaster, LidarModel, LidarScan
from .rig import CAMERA_CHANNELS, LIDAR_CHANNEL, SensorCalibration, calibrate_rig
from .release import plan_release
from .scene import SceneWorld, simulate_scene
from .tables import NuScenesTables, link_chain
from .taxonomy import visibility_token
from .tokens import TokenFactory

__all__ = ['GenerationSummary', 'generate_synthetic_nuscenes', 'MARKER_FILE']

MARKER_FILE = 'synthetic_nuscenes.json'  # provenance: the config that generated the folder
MAP_RESOLUTION = 0.1  # m per pixel of the semantic-prior masks, the devkit's default
MAP_MARGIN = 90.0  # m of streets mapped around each drive (beyond the LiDAR's reach)


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_synthetic_nuscenes` wrote."""

    root: Path
    scenes: int
    samples: int
    lidar_files: int
    images: int
    instances: int
    annotations: int
    bytes: int
    seconds: float
    splits: Tuple[SplitStats, ...] = ()

    def __str__(self) -> str:
        text = (f'Wrote {self.root}: {self.scenes} scenes, {self.samples} samples, '
                f'{self.lidar_files} LiDAR sweeps (key frames included), {self.images} images, '
                f'{self.annotations} annotations of {self.instances} instances; '
                f'{self.bytes / 2**20:.1f} MiB in {self.seconds:.1f} s')
        if self.splits:
            text += ('\nPer split (objects: instances with a LiDAR point, each counted once):\n'
                     + format_table(self.splits))
        return text


class _Progress:
    """mmengine's ProgressBar when it is installed, else a one-line counter on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled, self._bar = total, 0, enabled, None
        if enabled:
            try:
                from mmengine.utils import ProgressBar
                self._bar = ProgressBar(total)
            except ImportError:
                pass

    def update(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update()
            if self.done == self.total:
                self._bar.file.write('\n')
        elif self.enabled:
            end = '\n' if self.done == self.total else ''
            print(f'\rsamples {self.done}/{self.total}', end=end, file=sys.stderr, flush=True)


def _file_name(world: SceneWorld, channel: str, timestamp: int, extension: str) -> str:
    return f'{world.log.logfile}__{channel}__{timestamp}{extension}'


class _ReleaseBuilder:
    """Writes sensor files under ``root`` and fills the tables, scene by scene."""

    def __init__(self, root: Path, config: SyntheticNuScenesConfig) -> None:
        self.root, self.config = root, config
        self.plans = plan_release(config)
        self.tokens = TokenFactory(config.seed)
        self.tables = NuScenesTables(self.tokens)
        self.caster = LidarCaster(LidarModel(azimuth_step_deg=config.azimuth_step_deg))
        self.layouts: Dict[str, list] = defaultdict(list)
        self.lidar_files = 0
        self.images = 0

    def build(self, progress: _Progress) -> None:
        for channel in (LIDAR_CHANNEL, ) + CAMERA_CHANNELS:
            (self.root / 'samples' / channel).mkdir(parents=True)
        (self.root / 'sweeps' / LIDAR_CHANNEL).mkdir(parents=True)
        log_tokens: Dict[str, List[str]] = defaultdict(list)
        for plan in self.plans:
            world = simulate_scene(self.config, plan)
            log_token = self.tables.add_log(world.log)
            if log_token not in log_tokens[world.log.location]:
                log_tokens[world.log.location].append(log_token)
            self.layouts[world.log.location].append(world.layout)
            self._scene(world, log_token, progress)
        self._maps(log_tokens)
        self.tables.write(self.root / self.config.version)

    def split_stats(self) -> Tuple[SplitStats, ...]:
        """Scenes, samples and physical objects per split of what was built."""
        splits = tuple(dict.fromkeys(plan.split for plan in self.plans))
        return count_objects(self.tables.records, splits,
                             {plan.name: plan.split for plan in self.plans})

    def _maps(self, log_tokens: Dict[str, List[str]]) -> None:
        """One semantic-prior mask per location (255 on roads and sidewalks), in the devkit's
        MapMask convention: pixel (row, col) covers global x = col * res, y = (H - row) * res."""
        import cv2
        (self.root / 'maps').mkdir()
        for location, tokens in log_tokens.items():
            record = self.tables.add_map(location, tokens)
            quads = np.concatenate([
                layout.walkable_polygons(np.asarray(layout.drive_bounds) +
                                         [-MAP_MARGIN, MAP_MARGIN, -MAP_MARGIN, MAP_MARGIN])
                for layout in self.layouts[location]
            ])
            # The mask starts at the global origin; anything at negative x or y is cropped.
            extent = np.ceil(quads.reshape(-1, 2).max(0) / MAP_RESOLUTION).astype(int) + 10
            width, height = int(extent[0]), int(extent[1])
            mask = np.zeros((height, width), dtype=np.uint8)
            pixels = np.stack([quads[..., 0] / MAP_RESOLUTION,
                               height - quads[..., 1] / MAP_RESOLUTION], -1)
            for quad in pixels:  # one at a time: overlaps (junctions) stay filled
                cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 255)
            cv2.imwrite(str(self.root / record['filename']), mask,
                        [cv2.IMWRITE_PNG_COMPRESSION, 1])

    def _scene(self, world: SceneWorld, log_token: str, progress: _Progress) -> None:
        config, tables, tokens = self.config, self.tables, self.tokens
        calibrations = calibrate_rig(
            world.rng('calibration'), config.image_scale)
        cs_tokens = {
            channel: tables.add_calibrated_sensor(world.name, calib)
            for channel, calib in calibrations.items()
        }
        lighting = sample_lighting(world.rng('lighting'))
        renderers = {
            channel:
            CameraRenderer(calibrations[channel].sensor_to_ego, calibrations[channel].intrinsic,
                           calibrations[channel].width, calibrations[channel].height, lighting)
            for channel in CAMERA_CHANNELS
        }
        lidar_rng = world.rng('lidar')
        camera_rng = world.rng('camera')
        chains: Dict[str, List[dict]] = {channel: [] for channel in calibrations}
        samples: List[dict] = []
        annotations: Dict[int, List[dict]] = defaultdict(list)
        scene_token = tokens('scene', world.name)
        for k, key_timestamp in enumerate(world.key_timestamps):
            sample_token = tokens('sample', world.name, k)
            samples.append(tables.add_sample(sample_token, key_timestamp, scene_token))
            # Sweeps belong to the sample that follows them, as in the release.
            sweeps = world.sweep_timestamps[k - 1] if k > 0 else []
            for timestamp in sweeps:
                _, record = self._lidar(world, int(timestamp), sample_token, False,
                                        calibrations[LIDAR_CHANNEL], cs_tokens[LIDAR_CHANNEL],
                                        lidar_rng)
                chains[LIDAR_CHANNEL].append(record)
            scan, record = self._lidar(world, int(key_timestamp), sample_token, True,
                                       calibrations[LIDAR_CHANNEL], cs_tokens[LIDAR_CHANNEL],
                                       lidar_rng)
            chains[LIDAR_CHANNEL].append(record)
            for channel in CAMERA_CHANNELS:
                calib = calibrations[channel]
                timestamp = (
                    int(key_timestamp) + calib.mount.time_offset_us +
                    int(camera_rng.integers(-300, 301)))
                chains[channel].append(
                    self._camera(world, timestamp, sample_token, calib, cs_tokens[channel],
                                 renderers[channel]))
            self._annotate(world, k, sample_token, scan, annotations)
            progress.update()
        for chain in chains.values():
            link_chain(chain)
        link_chain(samples)
        tables.add_scene(scene_token, log_token, samples, world.name, world.description())
        for i in sorted(annotations):
            tables.add_instance(
                tokens('instance', world.name, i), world.objects[i].category, annotations[i])

    def _lidar(self, world: SceneWorld, timestamp: int, sample_token: str, is_key_frame: bool,
               calib: SensorCalibration, cs_token: str, rng: np.random.Generator):
        """Casts, writes and records one sweep; returns the scan and its sample_data record."""
        ego_pose = world.ego_pose(timestamp)
        boxes = world.boxes(timestamp)
        scan = self.caster.scan(calib.sensor_to_ego, ego_pose, boxes,
                                world.solids(timestamp, boxes), world.layout, rng)
        folder = 'samples' if is_key_frame else 'sweeps'
        filename = f'{folder}/{LIDAR_CHANNEL}/' + _file_name(world, LIDAR_CHANNEL, timestamp,
                                                             '.pcd.bin')
        scan.points.tofile(self.root / filename)
        self.lidar_files += 1
        record = self.tables.add_sample_data(
            self.tokens('sample_data', world.name, LIDAR_CHANNEL, timestamp), sample_token,
            cs_token, timestamp, 'pcd', is_key_frame, 0, 0, filename, ego_pose)
        return scan, record

    def _camera(self, world: SceneWorld, timestamp: int, sample_token: str,
                calib: SensorCalibration, cs_token: str, renderer: CameraRenderer) -> dict:
        """Renders, writes and records one key-frame image; returns its sample_data record."""
        channel = calib.mount.channel
        ego_pose = world.ego_pose(timestamp)
        frame = renderer.render(ego_pose, world.solids(timestamp), world.layout)
        filename = f'samples/{channel}/' + _file_name(world, channel, timestamp, '.jpg')
        save_jpeg(frame.image, self.root / filename, self.config.jpeg_quality)
        self.images += 1
        return self.tables.add_sample_data(
            self.tokens('sample_data', world.name, channel, timestamp), sample_token, cs_token,
            timestamp, 'jpg', True, calib.width, calib.height, filename, ego_pose)

    def _annotate(self, world: SceneWorld, k: int, sample_token: str, scan: LidarScan,
                  annotations: Dict[int, List[dict]]) -> None:
        boxes = world.boxes(int(world.key_timestamps[k]))
        for i in world.annotated(k):
            obj = world.objects[i]
            annotations[i].append(
                self.tables.add_annotation(
                    self.tokens('sample_annotation', world.name, i, k), sample_token,
                    self.tokens('instance', world.name, i),
                    visibility_token(scan.visible_fraction[i]), obj.attribute, boxes.centers[i],
                    obj.size_wlh, quaternion_from_yaw(obj.yaw), scan.num_points[i]))


def _check_target(target: Path, force: bool) -> None:
    occupied = target.is_symlink() or (target.exists() and
                                       (not target.is_dir() or any(target.iterdir())))
    if occupied and not force:
        raise FileExistsError(f'{target} already exists and is not empty; pass --force '
                              '(force=True) to replace it')


def _install(staging: Path, target: Path, force: bool) -> None:
    """Puts the finished ``staging`` folder at ``target``, replacing what is there (a link is
    replaced itself, never what it points to)."""
    _check_target(target, force)  # again: something may have appeared meanwhile
    replace_path(str(staging), str(target))  # one atomic exchange: old or new, never missing


def generate_synthetic_nuscenes(out_dir: Union[str, Path],
                                config: Optional[SyntheticNuScenesConfig] = None,
                                *,
                                force: bool = False,
                                progress: bool = True) -> GenerationSummary:
    """Writes a synthetic nuScenes release (``config.version``: v1.0-mini or v1.0-trainval) to
    ``out_dir``.

    The release is built in a hidden folder next to ``out_dir`` and renamed into place only when
    complete, so an interrupted run leaves nothing at ``out_dir``.

    Args:
        out_dir: The dataroot to create (e.g. ``data/nuscenes``).
        config: What to generate; defaults to :class:`SyntheticNuScenesConfig`'s defaults.
        force: Replace ``out_dir`` if it exists and is not empty.
        progress: Show a progress bar over the samples.

    Returns:
        Counts (per split too), size and duration of what was written.

    Raises:
        FileExistsError: ``out_dir`` is not empty and ``force`` is False.
    """
    config = config or SyntheticNuScenesConfig()
    target = Path(out_dir).absolute()
    _check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f'.{target.name}.partial-', dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the dataroot should not be
        builder = _ReleaseBuilder(staging, config)
        builder.build(_Progress(sum(plan.samples for plan in builder.plans), progress))
        with open(staging / MARKER_FILE, 'w') as f:
            json.dump(
                {
                    'generator': 'synthetic_nuscenes',
                    'version': config.version,
                    'config': config.record()
                },
                f,
                indent=1)
        size = sum(p.stat().st_size for p in staging.rglob('*') if p.is_file())
        _install(staging, target, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    records = builder.tables.records
    return GenerationSummary(target, len(records['scene']), len(records['sample']),
                             builder.lidar_files, builder.images, len(records['instance']),
                             len(records['sample_annotation']), size,
                             time.perf_counter() - start, builder.split_stats())
