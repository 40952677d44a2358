"""Oriented 3D boxes of the objects at one instant, as the sensors see them."""
from dataclasses import dataclass

import numpy as np

__all__ = ['BoxState', 'FACES', 'FACE_NORMALS']

# Corner signs along the box's (length, width, height) axes; FACES lists each face's corners
# as a closed loop and FACE_NORMALS its outward normal in the box frame.
_CORNER_SIGNS = np.array([[1, 1, 1], [1, -1, 1], [1, -1, -1], [1, 1, -1], [-1, 1, 1], [-1, -1, 1],
                          [-1, -1, -1], [-1, 1, -1]],
                         dtype=np.float64)
FACES = np.array([[0, 1, 2, 3], [4, 7, 6, 5], [0, 3, 7, 4], [1, 5, 6, 2], [0, 4, 5, 1],
                  [3, 2, 6, 7]])
FACE_NORMALS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                        dtype=np.float64)


@dataclass(frozen=True)
class BoxState:
    """B yaw-only boxes in the global frame; a box's frame has x along its length.

    Attributes:
        centers: ``(B, 3)`` metres.
        sizes_wlh: ``(B, 3)`` width, length, height in metres (nuScenes order).
        yaws: ``(B,)`` radians.
        class_ids: ``(B,)`` indices into ``OBJECT_CLASSES``.
    """

    centers: np.ndarray
    sizes_wlh: np.ndarray
    yaws: np.ndarray
    class_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.yaws)

    @property
    def half_extents(self) -> np.ndarray:
        """Half sizes along the box axes (length, width, height): ``(B, 3)`` metres."""
        return 0.5 * self.sizes_wlh[:, [1, 0, 2]]

    @property
    def rotations(self) -> np.ndarray:
        """Box -> global rotation matrices ``(B, 3, 3)``."""
        c, s = np.cos(self.yaws), np.sin(self.yaws)
        rot = np.zeros((len(self), 3, 3))
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = c, -s, s, c
        rot[:, 2, 2] = 1.0
        return rot

    def corners(self) -> np.ndarray:
        """Global corners ``(B, 8, 3)`` in :data:`FACES` numbering."""
        local = _CORNER_SIGNS[None] * self.half_extents[:, None]
        return np.einsum('bij,bkj->bki', self.rotations, local) + self.centers[:, None]

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Global points ``(N, 3)`` in every box's frame: ``(B, N, 3)``."""
        return np.einsum('bji,bnj->bni', self.rotations, points[None] - self.centers[:, None])
