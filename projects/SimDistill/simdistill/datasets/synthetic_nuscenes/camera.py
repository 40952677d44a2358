"""Pinhole camera rendering: textured ground and sky per pixel, then the object boxes as shaded
polygons drawn far to near."""
from typing import List

import numpy as np
from PIL import Image, ImageDraw

from .boxes import FACE_NORMALS, FACES, BoxState
from .geometry import RigidTransform
from .taxonomy import class_colour
from .texture import ground_albedo

__all__ = ['CameraRenderer']

NEAR_PLANE = 0.1  # m
FOG_DISTANCE = 60.0  # m over which the ground fades to 1 - 1/e into the haze
_HAZE = np.array([0.74, 0.75, 0.77])
_SKY_HORIZON = np.array([0.80, 0.84, 0.88])
_SKY_ZENITH = np.array([0.45, 0.60, 0.85])
_SUN = np.array([0.35, -0.45, 0.82]) / np.linalg.norm([0.35, -0.45, 0.82])


def _clip_near(polygon: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a camera-frame polygon ``(n, 3)`` to z >= NEAR_PLANE."""
    out: List[np.ndarray] = []
    for i in range(len(polygon)):
        a, b = polygon[i], polygon[(i + 1) % len(polygon)]
        a_in, b_in = a[2] >= NEAR_PLANE, b[2] >= NEAR_PLANE
        if a_in:
            out.append(a)
        if a_in != b_in:
            out.append(a + (NEAR_PLANE - a[2]) / (b[2] - a[2]) * (b - a))
    return np.array(out).reshape(-1, 3)


class CameraRenderer:
    """Renders one calibrated camera's images.

    The ego frame's xy-plane is the ground (ego poses are yaw-only at z = 0), so which pixels
    see the ground, where (in the ego frame) and through how much haze is fixed per camera; only
    the ground texture moves with the pose.

    Args:
        camera_to_ego: The camera's calibration.
        intrinsic: Camera matrix ``(3, 3)`` in pixels.
        width, height: Image size in pixels.
        seed: Seed of the ground texture.
    """

    def __init__(self, camera_to_ego: RigidTransform, intrinsic: np.ndarray, width: int,
                 height: int, seed: int) -> None:
        self.camera_to_ego = camera_to_ego
        self.intrinsic, self.width, self.height, self.seed = intrinsic, width, height, seed
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        pixels = np.stack([u, v, np.ones_like(u)], axis=-1).reshape(-1, 3)
        dirs = pixels @ np.linalg.inv(intrinsic).T @ camera_to_ego.matrix.T  # ego frame
        origin = camera_to_ego.translation
        down = -dirs[:, 2]
        ground = down > 1e-6
        t = np.where(ground, origin[2] / np.maximum(down, 1e-6), 0.0)
        ground_xy = origin[:2] + t[:, None] * dirs[:, :2]
        clarity = np.where(ground, np.exp(-t * np.linalg.norm(dirs[:, :2], axis=1) / FOG_DISTANCE),
                           0.0)[:, None]
        elevation = np.clip(-down / np.linalg.norm(dirs, axis=1) / 0.4, 0.0, 1.0)[:, None]
        sky = (1 - elevation) * _SKY_HORIZON + elevation * _SKY_ZENITH
        base = np.where(ground[:, None], (1 - clarity) * _HAZE, sky)
        # The texture is computed from the first pixel that sees the ground on (the rows below
        # the horizon), weighted 0 where a pixel sees the sky. Stored x255 in float32: the
        # per-image work is a multiply-add and a cast.
        self._start = int(np.argmax(ground)) if ground.any() else len(ground)
        self._ground_xy = ground_xy[self._start:]
        self._texture_weight = (255 * clarity[self._start:]).astype(np.float32)
        self._base = (255 * base + 0.5).astype(np.float32)  # + 0.5: the cast rounds

    def render(self, ego_to_global: RigidTransform, boxes: BoxState) -> np.ndarray:
        """The image ``(height, width, 3)`` uint8 RGB seen from the given ego pose.

        Args:
            ego_to_global: The ego pose at the image's timestamp; must be yaw-only at z = 0.
            boxes: The objects at that timestamp.
        """
        rot_ge = ego_to_global.matrix
        if abs(ego_to_global.translation[2]) > 1e-9 or abs(rot_ge[2, 2] - 1.0) > 1e-9:
            raise ValueError('the camera renderer needs yaw-only ego poses at z = 0')
        rot = rot_ge @ self.camera_to_ego.matrix
        origin = ego_to_global.apply(self.camera_to_ego.translation)
        xy = self._ground_xy @ rot_ge[:2, :2].T + ego_to_global.translation[:2]
        rgb = self._base.copy()
        rgb[self._start:] += self._texture_weight * ground_albedo(xy[:, 0], xy[:, 1],
                                                                  self.seed)[:, None]
        image = Image.fromarray(rgb.astype(np.uint8).reshape(self.height, self.width, 3))
        self._draw_boxes(ImageDraw.Draw(image), rot, origin, boxes)
        return np.asarray(image)

    def _draw_boxes(self, draw: ImageDraw.ImageDraw, rot: np.ndarray, origin: np.ndarray,
                    boxes: BoxState) -> None:
        if not len(boxes):
            return
        half, box_rots = boxes.half_extents, boxes.rotations
        cam_local = np.einsum('bji,bj->bi', box_rots, origin - boxes.centers)  # box frames
        distance = np.linalg.norm(cam_local - np.clip(cam_local, -half, half), axis=1)
        corners_cam = (boxes.corners() - origin) @ rot  # (B, 8, 3) camera frame
        for b in np.argsort(-distance, kind='stable'):  # painter's algorithm: far to near
            z = corners_cam[b, :, 2]
            if np.all(z < NEAR_PLANE):
                continue
            if np.all(z >= NEAR_PLANE):
                uv = self._project(corners_cam[b])
                if (np.all(uv[:, 0] < 0) or np.all(uv[:, 0] > self.width) or np.all(uv[:, 1] < 0)
                        or np.all(uv[:, 1] > self.height)):
                    continue
            colour = np.asarray(class_colour(int(boxes.class_ids[b])))
            for face, normal in zip(FACES, FACE_NORMALS):
                # Back-face culling: the camera must be on the outer side of the face.
                axis = int(np.argmax(np.abs(normal)))
                if normal[axis] * cam_local[b, axis] <= half[b, axis]:
                    continue
                polygon = _clip_near(corners_cam[b, face])
                if len(polygon) < 3:
                    continue
                shade = 0.5 + 0.5 * max(0.0, float((box_rots[b] @ normal) @ _SUN))
                fill = tuple(int(round(255 * c * shade)) for c in colour)
                edge = tuple(int(round(0.6 * 255 * c * shade)) for c in colour)
                draw.polygon([tuple(p) for p in self._project(polygon)], fill=fill, outline=edge)

    def _project(self, points: np.ndarray) -> np.ndarray:
        """Pixels ``(n, 2)`` of camera-frame points ``(n, 3)`` in front of the camera."""
        uvw = points @ self.intrinsic.T
        return uvw[:, :2] / uvw[:, 2:3]
