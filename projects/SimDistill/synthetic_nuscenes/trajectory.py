"""The ego car's smooth drive through a scene: speed and heading in closed form, position
integrated from them."""
from dataclasses import dataclass

import numpy as np

__all__ = ['EgoMotion', 'EgoTrajectory', 'sample_ego_motion']


@dataclass(frozen=True)
class EgoMotion:
    """Parameters of a drive; times in seconds from the scene's first key frame.

    Attributes:
        start_xy: Global position of the ego frame's origin at t = 0 ``(2,)`` metres.
        start_heading: Yaw at t = 0 (radians, counter-clockwise from global +x).
        speed: Speed at t = 0 (m/s).
        acceleration: Constant acceleration (m/s²); the speed never drops below
            :attr:`min_speed`.
        yaw_rate: Constant part of the yaw rate (rad/s), a gentle curve.
        turn_angle: Heading change of one smooth turn (radians, 0: no turn).
        turn_start: When the turn starts (s).
        turn_duration: How long it takes (s).
        min_speed: Lowest speed (m/s).
    """

    start_xy: tuple
    start_heading: float
    speed: float
    acceleration: float
    yaw_rate: float
    turn_angle: float
    turn_start: float
    turn_duration: float
    min_speed: float = 0.5


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class EgoTrajectory:
    """Pose of the ego car at any time of a scene.

    Args:
        motion: The drive's parameters.
        t_min, t_max: Time span that will be queried (s); the position is integrated over it.
        dt: Integration step (s).
    """

    def __init__(self, motion: EgoMotion, t_min: float, t_max: float, dt: float = 0.005) -> None:
        self.motion = motion
        n = int(np.ceil((t_max - t_min) / dt)) + 2
        self._t = t_min + dt * np.arange(n)
        heading, speed = self.heading(self._t), self.speed(self._t)
        vel = speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        steps = 0.5 * (vel[1:] + vel[:-1]) * dt
        xy = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
        # Shift so the ego is exactly at start_xy at t = 0.
        origin = np.array([np.interp(0.0, self._t, xy[:, i]) for i in range(2)])
        self._xy = xy - origin + np.asarray(motion.start_xy)

    def heading(self, t) -> np.ndarray:
        """Yaw (radians) at times ``t`` (s), any shape."""
        m = self.motion
        t = np.asarray(t, dtype=np.float64)
        turn = m.turn_angle * _smoothstep((t - m.turn_start) / m.turn_duration)
        return m.start_heading + m.yaw_rate * t + turn

    def speed(self, t) -> np.ndarray:
        """Speed (m/s) at times ``t`` (s), any shape."""
        m = self.motion
        return np.maximum(m.min_speed, m.speed + m.acceleration * np.asarray(t, np.float64))

    def position(self, t) -> np.ndarray:
        """Global xy (metres) of the ego frame's origin at times ``t`` (s), ``t.shape + (2,)``."""
        t = np.asarray(t, dtype=np.float64)
        return np.stack([np.interp(t, self._t, self._xy[:, i]) for i in range(2)], axis=-1)


def sample_ego_motion(rng: np.random.Generator, start_xy, duration: float,
                      drive_side: int = 1) -> EgoMotion:
    """Draws a plausible urban drive of ``duration`` seconds along straight roads: cruising
    straight on, or, in one scene of three, slower with a right-angle turn into a crossing road
    (tighter towards the kerb side than across the oncoming lanes).
    """
    heading = rng.uniform(-np.pi, np.pi)
    if rng.random() < 1 / 3:
        speed = rng.uniform(3.0, 6.0)
        turn_angle = rng.choice([-1.0, 1.0]) * np.pi / 2
        towards_kerb = np.sign(turn_angle) == -drive_side  # right turn where traffic keeps right
        radius = rng.uniform(7.0, 11.0) if towards_kerb else rng.uniform(11.0, 16.0)
        turn_duration = 0.5 * np.pi * radius / speed
        turn_start = rng.uniform(0.0, max(duration - turn_duration, 0.0) + 1e-3)
        acceleration = rng.uniform(-0.1, 0.1)
    else:
        speed = rng.uniform(4.0, 11.0)
        turn_angle, turn_start, turn_duration = 0.0, 0.0, 1.0
        acceleration = rng.uniform(-0.3, 0.3)
    return EgoMotion(
        start_xy=tuple(float(v) for v in start_xy),
        start_heading=float(heading),
        speed=float(speed),
        acceleration=float(acceleration),
        yaw_rate=0.0,
        turn_angle=float(turn_angle),
        turn_start=float(turn_start),
        turn_duration=float(turn_duration))
