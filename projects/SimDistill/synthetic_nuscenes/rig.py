"""The sensor rig: a nuScenes-like LIDAR_TOP and six cameras, calibrated once per scene."""
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from .geometry import RigidTransform, rotation_zyx

__all__ = [
    'SensorMount', 'RIG', 'LIDAR_CHANNEL', 'CAMERA_CHANNELS', 'SensorCalibration', 'calibrate_rig',
    'EGO_LENGTH', 'EGO_WIDTH', 'EGO_CENTER_X'
]

# The ego car (a Renault Zoe): its frame's origin is the rear axle's middle on the ground, x
# forward, y left, z up; EGO_CENTER_X is where its body's centre lies on the x axis.
EGO_LENGTH, EGO_WIDTH, EGO_CENTER_X = 4.08, 1.73, 1.44

# Camera frame (x right, y down, z forward) -> ego frame for a camera looking along ego +x.
_CAMERA_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class SensorMount:
    """Nominal mounting of one sensor on the ego car.

    Attributes:
        channel: nuScenes channel name.
        modality: 'lidar' or 'camera'.
        translation: Sensor origin in the ego frame ``(3,)`` metres.
        yaw_deg: Heading of the sensor's looking direction (cameras: optical axis; LIDAR_TOP: its
            x axis) from ego +x, counter-clockwise, degrees.
        intrinsic: ``(fx, fy, cx, cy)`` in pixels at 1600x900, None for the LiDAR.
        time_offset_us: When the sensor fires relative to the LiDAR key frame (µs).
    """

    channel: str
    modality: str
    translation: tuple
    yaw_deg: float
    intrinsic: Optional[tuple]
    time_offset_us: int

    @property
    def is_camera(self) -> bool:
        return self.modality == 'camera'


LIDAR_CHANNEL = 'LIDAR_TOP'
RIG = (
    SensorMount(LIDAR_CHANNEL, 'lidar', (0.943713, 0.0, 1.84023), -90.0, None, 0),
    SensorMount('CAM_FRONT', 'camera', (1.70079, 0.01595, 1.51096), 0.0,
                (1266.42, 1266.42, 816.27, 491.51), 2000),
    SensorMount('CAM_FRONT_RIGHT', 'camera', (1.55085, -0.49340, 1.49575), -55.0,
                (1260.85, 1260.85, 807.97, 495.33), 4500),
    SensorMount('CAM_FRONT_LEFT', 'camera', (1.52388, 0.49463, 1.50933), 55.0,
                (1272.60, 1272.60, 826.62, 479.75), -2500),
    SensorMount('CAM_BACK', 'camera', (0.02833, 0.00345, 1.57910), 180.0,
                (809.22, 809.22, 829.22, 481.77), -7500),
    SensorMount('CAM_BACK_LEFT', 'camera', (1.03569, 0.48480, 1.59097), 110.0,
                (1256.75, 1256.75, 817.79, 451.95), -5000),
    SensorMount('CAM_BACK_RIGHT', 'camera', (1.01488, -0.48057, 1.56240), -110.0,
                (1259.51, 1259.51, 807.25, 501.20), 7000),
)
CAMERA_CHANNELS = tuple(m.channel for m in RIG if m.is_camera)


@dataclass(frozen=True)
class SensorCalibration:
    """One ``calibrated_sensor`` record's content.

    Attributes:
        mount: The nominal mounting.
        sensor_to_ego: Sensor frame -> ego frame.
        intrinsic: Camera matrix ``(3, 3)`` in pixels at the generated image size; None for the
            LiDAR.
        width, height: Image size in pixels (0 for the LiDAR).
    """

    mount: SensorMount
    sensor_to_ego: RigidTransform
    intrinsic: Optional[np.ndarray]
    width: int
    height: int


def calibrate_rig(rng: np.random.Generator, image_scale: float) -> Dict[str, SensorCalibration]:
    """Calibrates every sensor: its nominal mounting plus a few mm and tenths of a degree of
    per-scene mounting error, and the intrinsics scaled to the image size.

    Args:
        rng: Random source for the mounting errors.
        image_scale: Image size as a fraction of 1600x900.

    Returns:
        Channel -> calibration, in :data:`RIG` order.
    """
    width, height = round(1600 * image_scale), round(900 * image_scale)
    calibrations = {}
    for mount in RIG:
        yaw, pitch, roll = np.deg2rad([mount.yaw_deg, 0.0, 0.0] + rng.normal(0.0, 0.15, 3))
        translation = np.asarray(mount.translation) + rng.normal(0.0, 0.003, 3)
        rot = rotation_zyx(yaw, pitch, roll)
        if mount.is_camera:
            rot = rot @ _CAMERA_AXES
            fx, fy, cx, cy = np.asarray(mount.intrinsic) * image_scale
            intrinsic = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
            size = (width, height)
        else:
            intrinsic, size = None, (0, 0)
        calibrations[mount.channel] = SensorCalibration(
            mount, RigidTransform.from_matrix(rot, translation), intrinsic, *size)
    return calibrations
