"""Pinhole camera rendering by ray casting: every pixel's ray meets the ground (roads, paint,
sidewalks, lawns) or the nearest solid (objects' parts, kerbs, buildings, trees, ...), which is
then shaded by the scene's sun, textured (windows) and faded into the haze with distance."""
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .geometry import RigidTransform
from .layout import StreetLayout
from .materials import material_id, window_mask
from .solids import Solids

__all__ = ['CameraRenderer', 'Lighting', 'sample_lighting', 'CameraFrame']

NEAR_PLANE = 0.1  # m
FOG_DISTANCE = 80.0  # m over which a surface fades to 1 - 1/e into the haze
CULL_DISTANCE = 160.0  # m: solids farther than this are not drawn
_BATCH_PAIRS = 400_000  # (solid, pixel) pairs slab-tested at once
_GLASS = np.array([0.1, 0.13, 0.18])
_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5],
                   [2, 6], [3, 7]])


@dataclass(frozen=True)
class Lighting:
    """A scene's light.

    Attributes:
        sun: ``(3,)`` unit vector towards the sun (global frame).
        sun_strength: Share of a face's brightness that comes from the sun when facing it.
        ambient: Brightness of a face the sun does not reach.
        haze: ``(3,)`` RGB of the haze far surfaces fade into.
        sky_horizon, sky_zenith: ``(3,)`` RGB of the sky.
    """

    sun: np.ndarray
    sun_strength: float
    ambient: float
    haze: np.ndarray
    sky_horizon: np.ndarray
    sky_zenith: np.ndarray


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """A random daytime light: sun azimuth and elevation, overcast to sunny."""
    azimuth, elevation = rng.uniform(-np.pi, np.pi), rng.uniform(np.deg2rad(20), np.deg2rad(70))
    sun = np.array([np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation),
                    np.sin(elevation)])
    sunny = rng.uniform(0.0, 1.0)
    tint = rng.normal(0.0, 0.02, 3)
    return Lighting(sun, 0.25 + 0.45 * sunny, 0.75 - 0.3 * sunny,
                    np.clip(np.array([0.74, 0.75, 0.77]) + tint, 0, 1),
                    np.clip(np.array([0.8, 0.84, 0.88]) + tint, 0, 1),
                    np.clip(np.array([0.45, 0.6, 0.85]) + tint + 0.15 * (1 - sunny), 0, 1))


@dataclass(frozen=True)
class CameraFrame:
    """A rendered image and what each pixel sees.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        solid: ``(H, W)`` index of the solid seen (-1: ground, -2: sky).
        depth: ``(H, W)`` depth along the optical axis (m; inf for the sky).
    """

    image: np.ndarray
    solid: np.ndarray
    depth: np.ndarray


class CameraRenderer:
    """Renders one calibrated camera's images.

    Args:
        camera_to_ego: The camera's calibration.
        intrinsic: Camera matrix ``(3, 3)`` in pixels.
        width, height: Image size in pixels.
        lighting: The scene's light.
    """

    def __init__(self, camera_to_ego: RigidTransform, intrinsic: np.ndarray, width: int,
                 height: int, lighting: Lighting) -> None:
        self.camera_to_ego = camera_to_ego
        self.intrinsic, self.width, self.height = intrinsic, width, height
        self.lighting = lighting
        u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        pixels = np.stack([u, v, np.ones_like(u)], axis=-1).reshape(-1, 3)
        self._rays_cam = pixels @ np.linalg.inv(intrinsic).T  # z = 1: t is the depth
        self._rays_ego = self._rays_cam @ camera_to_ego.matrix.T
        self._ray_length = np.linalg.norm(self._rays_cam, axis=1)  # metres per unit of depth

    def render(self, ego_to_global: RigidTransform, solids: Solids,
               layout: StreetLayout) -> CameraFrame:
        """The image seen from the given ego pose.

        Args:
            ego_to_global: The ego pose at the image's timestamp; must be yaw-only at z = 0.
            solids: Everything but the ground at that timestamp.
            layout: The streets (what the ground looks like).
        """
        rot_ge = ego_to_global.matrix
        if abs(ego_to_global.translation[2]) > 1e-9 or abs(rot_ge[2, 2] - 1.0) > 1e-9:
            raise ValueError('the camera renderer needs yaw-only ego poses at z = 0')
        rot = rot_ge @ self.camera_to_ego.matrix  # camera -> global
        origin = ego_to_global.apply(self.camera_to_ego.translation)
        rays = self._rays_ego @ rot_ge.T  # (N, 3) global
        down = -rays[:, 2]
        depth = np.where(down > 1e-9, origin[2] / np.maximum(down, 1e-9), np.inf)
        seen = np.where(np.isfinite(depth), -1, -2)
        axis = np.zeros(len(rays), dtype=np.int64)
        sign = np.zeros(len(rays))
        self._cast(origin, rot, rays, solids, depth, seen, axis, sign)
        rgb = self._shade(origin, rays, depth, seen, axis, sign, solids, layout)
        image = (255 * np.clip(rgb, 0, 1) + 0.5).astype(np.uint8)
        shape = (self.height, self.width)
        return CameraFrame(image.reshape(*shape, 3), seen.reshape(shape), depth.reshape(shape))

    def _pixel_windows(self, corners_cam: np.ndarray) -> np.ndarray:
        """Pixel rectangles ``(S, 4)`` int ``(c0, c1, r0, r1)`` covering boxes given by their
        camera-frame corners ``(S, 8, 3)``, each clipped at the near plane; empty
        (``c0 >= c1`` or ``r0 >= r1``) for boxes behind the camera or outside the image."""
        z = corners_cam[..., 2]
        a, b = corners_cam[:, _EDGES[:, 0]], corners_cam[:, _EDGES[:, 1]]  # (S, 12, 3)
        za, zb = a[..., 2], b[..., 2]
        crossing = (za < NEAR_PLANE) != (zb < NEAR_PLANE)
        f = np.where(crossing, (NEAR_PLANE - za) / np.where(crossing, zb - za, 1.0), 0.0)
        points = np.concatenate([corners_cam, a + f[..., None] * (b - a)], axis=1)
        valid = np.concatenate([z >= NEAR_PLANE, crossing], axis=1)
        uvw = points @ self.intrinsic.T
        uv = uvw[..., :2] / np.where(valid, uvw[..., 2], 1.0)[..., None]
        low = np.where(valid[..., None], uv, np.inf).min(1)
        high = np.where(valid[..., None], uv, -np.inf).max(1)
        any_valid = valid.any(1)
        low = np.where(any_valid[:, None], low, 0.0)
        high = np.where(any_valid[:, None], high, -1.0)
        c0 = np.clip(np.floor(low[:, 0]), 0, self.width).astype(np.int64)
        r0 = np.clip(np.floor(low[:, 1]), 0, self.height).astype(np.int64)
        c1 = np.clip(np.ceil(high[:, 0]) + 1, 0, self.width).astype(np.int64)
        r1 = np.clip(np.ceil(high[:, 1]) + 1, 0, self.height).astype(np.int64)
        return np.stack([c0, c1, r0, r1], 1)

    def _cast(self, origin, rot, rays, solids: Solids, depth, seen, axis, sign) -> None:
        """Slab-tests the rays of each solid's pixel window, a batch of (solid, pixel) pairs at
        a time; keeps the nearest hit per pixel in ``depth``/``seen``/``axis``/``sign`` ``(N,)``
        (updated in place)."""
        if not len(solids):
            return
        half = solids.half_extents
        near = np.linalg.norm(solids.centers - origin, axis=1) - np.linalg.norm(half, axis=1)
        windows = self._pixel_windows((solids.corners() - origin) @ rot)
        c0, c1, r0, r1 = windows.T
        area = np.maximum(c1 - c0, 0) * np.maximum(r1 - r0, 0) * (near < CULL_DISTANCE)
        chosen = np.flatnonzero(area > 0)
        batches = np.cumsum(area[chosen]) // _BATCH_PAIRS
        # Per solid: the camera in its (yaw-only) frame; per pixel: the ray's components.
        # float32: a pixel's hit only needs millimetres at the ranges drawn.
        cos_s, sin_s = np.cos(solids.yaws), np.sin(solids.yaws)
        rel = origin - solids.centers
        o_s = tuple(
            v.astype(np.float32)
            for v in (rel[:, 0] * cos_s + rel[:, 1] * sin_s,
                      -rel[:, 0] * sin_s + rel[:, 1] * cos_s, rel[:, 2]))
        cos_s, sin_s = cos_s.astype(np.float32), sin_s.astype(np.float32)
        half = half.astype(np.float32)
        rx, ry, rz = (rays[:, i].astype(np.float32) for i in range(3))
        for batch in np.unique(batches):
            sel = chosen[batches == batch]
            counts = area[sel]
            ps = np.repeat(sel, counts)
            k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            w = (c1 - c0)[ps]
            pix = (r0[ps] + k // w) * self.width + c0[ps] + k % w
            cos, sin = cos_s[ps], sin_s[ps]
            x, y = rx[pix], ry[pix]
            d = (x * cos + y * sin, y * cos - x * sin, rz[pix])
            t_enter, t_far = [], np.inf
            for i in range(3):
                inv = np.float32(1.0) / np.where(np.abs(d[i]) < 1e-12, np.float32(1e-12), d[i])
                o, h = o_s[i][ps], half[ps, i]
                t1, t2 = (-h - o) * inv, (h - o) * inv
                t_enter.append(np.minimum(t1, t2))
                t_far = np.minimum(t_far, np.maximum(t1, t2))
            t_near = np.maximum(np.maximum(t_enter[0], t_enter[1]), t_enter[2])
            hit = np.flatnonzero((t_far >= t_near) & (t_near > 0) & (t_near < depth[pix]))
            if not len(hit):
                continue
            p, t = pix[hit], t_near[hit]
            np.minimum.at(depth, p, t)
            first = hit[t == depth[p]]  # the nearest hit of each pixel (ties: either)
            p = pix[first]
            seen[p] = ps[first]
            face = np.argmax(np.stack([t[first] for t in t_enter]), axis=0)
            axis[p] = face
            sign[p] = -np.sign(np.stack([c[first] for c in d])[face, np.arange(len(first))])

    def _shade(self, origin, rays, depth, seen, axis, sign, solids: Solids,
               layout: StreetLayout) -> np.ndarray:
        light = self.lighting
        rgb = np.empty((len(rays), 3))
        distance = depth * self._ray_length
        ground = np.flatnonzero(seen == -1)
        points = origin + depth[ground, None] * rays[ground]
        rgb[ground] = layout.ground(points[:, :2])[1] * (
            light.ambient + light.sun_strength * light.sun[2])
        sky = np.flatnonzero(seen == -2)
        elevation = np.clip(rays[sky, 2] / self._ray_length[sky] / 0.4, 0, 1)
        rgb[sky] = (1 - elevation[:, None]) * light.sky_horizon + \
            elevation[:, None] * light.sky_zenith
        hit = np.flatnonzero(seen >= 0)
        s = seen[hit]
        # Outward normals of yaw-only boxes: +-length axis, +-width axis or +-z.
        a, g = axis[hit], sign[hit]
        cos, sin = np.cos(solids.yaws[s]), np.sin(solids.yaws[s])
        normal = np.zeros((len(hit), 3))
        normal[:, 0] = np.where(a == 0, cos, np.where(a == 1, -sin, 0.0)) * g
        normal[:, 1] = np.where(a == 0, sin, np.where(a == 1, cos, 0.0)) * g
        normal[:, 2] = np.where(a == 2, g, 0.0)
        shade = light.ambient + light.sun_strength * np.maximum(normal @ light.sun, 0.0)
        colour = solids.colours[s].copy()
        patterned = np.flatnonzero(solids.patterns[s] != 0)
        if len(patterned):
            sel = hit[patterned]
            p = origin + depth[sel, None] * rays[sel]
            sp = s[patterned]
            local = np.einsum('nji,nj->ni', solids.rotations[sp], p - solids.centers[sp])
            glass = window_mask(solids.patterns[sp], axis[sel], local, solids.half_extents[sp])
            colour[patterned[glass]] = _GLASS + 0.25 * light.sky_horizon * (normal[
                patterned[glass], 2:3] + 0.3)
        lamp = solids.materials[s] == material_id('lamp')
        shade[lamp] = 1.0
        rgb[hit] = colour * shade[:, None]
        fade = np.flatnonzero(seen != -2)
        clarity = np.exp(-distance[fade] / FOG_DISTANCE)[:, None]
        rgb[fade] = clarity * rgb[fade] + (1 - clarity) * light.haze
        return rgb


def save_jpeg(image: np.ndarray, path, quality: int) -> None:
    """Writes an RGB image as JPEG without chroma subsampling."""
    Image.fromarray(image).save(path, quality=quality, subsampling=0)
