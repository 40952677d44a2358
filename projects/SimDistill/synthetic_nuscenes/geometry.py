"""Rotations as (w, x, y, z) quaternions and rigid transforms, as nuScenes tables store them."""
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    'quaternion_from_yaw', 'quaternion_from_matrix', 'quaternion_to_matrix', 'rotation_zyx',
    'RigidTransform'
]


def quaternion_from_yaw(yaw: float) -> np.ndarray:
    """Unit quaternion ``(4,)`` (w, x, y, z) of a rotation by ``yaw`` radians about +z."""
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def quaternion_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(4,)`` (w, x, y, z), w >= 0, of a rotation matrix ``(3, 3)``."""
    m = np.asarray(rot, dtype=np.float64)
    trace = np.trace(m)
    # Shepperd's method: divide by the largest of the four candidate components.
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    if q[0] < 0:
        q = -q
    return q / np.linalg.norm(q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` of a (w, x, y, z) quaternion ``(4,)`` (normalised first)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def rotation_zyx(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` = Rz(yaw) @ Ry(pitch) @ Rx(roll), angles in radians."""
    cy, sy, cp, sp, cr, sr = (np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll),
                              np.sin(roll))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class RigidTransform:
    """A frame's pose in a parent frame: ``p_parent = R @ p_child + translation``.

    Built from the exact values written to the tables (a unit quaternion and a translation in
    metres), so the simulation and every reader of the tables use the same numbers.

    Attributes:
        rotation: Unit quaternion ``(4,)`` (w, x, y, z).
        translation: ``(3,)`` metres.
    """

    rotation: np.ndarray
    translation: np.ndarray

    @classmethod
    def from_matrix(cls, rot: np.ndarray, translation) -> 'RigidTransform':
        return cls(quaternion_from_matrix(rot), np.asarray(translation, dtype=np.float64))

    @cached_property
    def matrix(self) -> np.ndarray:
        """Rotation matrix ``(3, 3)`` of :attr:`rotation`."""
        return quaternion_to_matrix(self.rotation)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Maps points ``(..., 3)`` from the child frame to the parent frame."""
        return points @ self.matrix.T + self.translation

    def compose(self, child: 'RigidTransform') -> 'RigidTransform':
        """``self ∘ child``: the pose of ``child``'s frame in this transform's parent frame."""
        rot = self.matrix @ child.matrix
        return RigidTransform.from_matrix(rot, self.apply(child.translation))

    def record(self) -> dict:
        """``{'translation': [..], 'rotation': [..]}`` as the tables store it."""
        return {
            'translation': [float(v) for v in self.translation],
            'rotation': [float(v) for v in self.rotation]
        }
