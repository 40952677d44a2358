"""A 32-beam spinning LiDAR, ray cast onto the ground plane (roads, paint, sidewalks, lawns) and
every solid (the objects' parts, kerbs, buildings, trees, ...): the nearest hit wins, so
buildings and trees occlude; intensity by material and incidence, dropout and range noise."""
from dataclasses import dataclass

import numpy as np

from .boxes import BoxState
from .geometry import RigidTransform
from .layout import StreetLayout
from .materials import MATERIALS, material_id, window_mask
from .solids import Solids

__all__ = ['LidarModel', 'LidarScan', 'LidarCaster', 'HDL32_ELEVATIONS_DEG']

# HDL-32E beam elevations, lowest first (the ring index is the position in this array).
HDL32_ELEVATIONS_DEG = np.linspace(-30.67, 10.67, 32)
# Points closer than this to a box face are dropped, so that whether a point lies inside a box
# never depends on rounding (the written points are float32).
BOUNDARY_MARGIN = 0.002  # m


@dataclass(frozen=True)
class LidarModel:
    """Sensor parameters.

    Attributes:
        azimuth_step_deg: Horizontal angle between two firings of a beam (degrees).
        max_range: Farthest return (m).
        range_noise: Standard deviation of the range noise (m).
        surface_depth: Least depth (m) below a solid's face at which its returns lie: the
            annotated box encloses the object's points, as in nuScenes.
        dropout: Probability that any return is lost (on top of the material's own).
    """

    azimuth_step_deg: float = 0.4
    max_range: float = 70.0
    range_noise: float = 0.015
    surface_depth: float = 0.01
    dropout: float = 0.02

    @property
    def num_azimuths(self) -> int:
        return int(round(360.0 / self.azimuth_step_deg))

    def directions(self) -> np.ndarray:
        """Unit ray directions in the sensor frame ``(32, A)`` (beams x azimuths) ``x 3``."""
        elevation = np.deg2rad(HDL32_ELEVATIONS_DEG)[:, None]
        azimuth = 2 * np.pi * np.arange(self.num_azimuths)[None] / self.num_azimuths
        return np.stack(
            np.broadcast_arrays(
                np.cos(elevation) * np.cos(azimuth),
                np.cos(elevation) * np.sin(azimuth), np.sin(elevation)),
            axis=-1)


@dataclass(frozen=True)
class LidarScan:
    """One sweep.

    Attributes:
        points: ``(N, 5)`` float32 x, y, z (m, sensor frame), intensity (0-255), ring index.
        num_points: ``(B,)`` number of points inside each annotated box.
        visible_fraction: ``(B,)`` fraction of the rays that would hit each object's parts
            (within range) whose nearest hit is one of them, 0 for objects no ray reaches.
    """

    points: np.ndarray
    num_points: np.ndarray
    visible_fraction: np.ndarray


class LidarCaster:
    """Casts every ray of a :class:`LidarModel` at once.

    Args:
        model: The sensor.
    """

    def __init__(self, model: LidarModel) -> None:
        self.model = model
        self._dirs = model.directions()
        self._step = 2 * np.pi / model.num_azimuths
        self._reflectivity = np.array([m.reflectivity for m in MATERIALS])
        self._dropout = np.array([m.dropout for m in MATERIALS])

    def scan(self, sensor_to_ego: RigidTransform, ego_to_global: RigidTransform, boxes: BoxState,
             solids: Solids, layout: StreetLayout, rng: np.random.Generator) -> LidarScan:
        """Casts a sweep from the sensor pose given by the two transforms.

        Args:
            sensor_to_ego: The LiDAR's calibration.
            ego_to_global: The ego pose at the sweep's timestamp.
            boxes: The annotated objects' boxes at that timestamp (B boxes).
            solids: Everything but the ground at that timestamp; ``owners`` index ``boxes``.
            layout: The streets (what the ground is made of).
            rng: Source of range and intensity noise and of dropout.
        """
        model = self.model
        rot_gs = ego_to_global.matrix @ sensor_to_ego.matrix
        origin = ego_to_global.apply(sensor_to_ego.translation)
        dirs = self._dirs @ rot_gs.T  # (32, A, 3) global
        down = -dirs[..., 2]
        best_t = np.where(down > 1e-9, origin[2] / np.maximum(down, 1e-9), np.inf)  # ground
        best_id = np.full(best_t.shape, -1)  # -1: ground
        best_exit = np.full(best_t.shape, np.inf)
        best_cos = np.maximum(down, 0.0)
        best_axis = np.full(best_t.shape, 2)
        pair_box, pair_col = self._ray_box_pairs(origin, rot_gs, solids)
        hits_possible = self._cast_boxes(origin, dirs, solids, pair_box, pair_col, best_t,
                                         best_id, best_exit, best_cos, best_axis, len(boxes))
        valid = best_t <= model.max_range
        owner_of = np.append(solids.owners, -1)  # best_id -1 (ground) -> owner -1
        best_owner = owner_of[best_id]
        visible = np.bincount(best_owner[valid & (best_owner >= 0)], minlength=len(boxes))
        fraction = np.where(hits_possible > 0, visible / np.maximum(hits_possible, 1), 0.0)

        rows, cols = np.nonzero(valid)
        ids, cos, axis = best_id[rows, cols], best_cos[rows, cols], best_axis[rows, cols]
        ranges = best_t[rows, cols]
        noise = rng.normal(0.0, model.range_noise, len(ranges))
        depth = np.minimum(
            np.abs(noise) + model.surface_depth, 0.5 * (best_exit[rows, cols] - ranges))
        ranges = ranges + np.where(ids >= 0, depth, noise)
        xyz = (self._dirs[rows, cols] * ranges[:, None]).astype(np.float32)  # as written
        # Global positions as a reader of the tables computes them: sensor -> ego -> global.
        xyz_global = ego_to_global.apply(sensor_to_ego.apply(xyz.astype(np.float64)))
        materials = self._materials(xyz_global, ids, axis, solids, layout)
        lost = rng.random(len(ids)) < model.dropout + self._dropout[materials]
        value = self._reflectivity[materials] * (0.4 + 0.6 * cos) * rng.uniform(
            0.85, 1.15, len(ids))
        intensity = np.clip(np.round(value), 0, 255)
        points = np.concatenate([xyz, intensity[:, None], rows[:, None]], axis=1)
        points = points.astype(np.float32)
        point_at = np.full(best_t.shape, -1)
        point_at[rows[~lost], cols[~lost]] = np.flatnonzero(~lost)
        box_pair, box_col = self._ray_box_pairs(origin, rot_gs, boxes)
        keep, counts = self._count_inside(xyz_global, point_at, box_pair, box_col, boxes)
        keep &= ~lost
        return LidarScan(points[keep], counts, fraction)

    def _materials(self, xyz_global, ids, axis, solids: Solids, layout: StreetLayout):
        """Material of each hit ``(N,)``: the ground's where ``ids`` is -1, else the solid's
        (glass where a window pattern says so)."""
        materials = np.empty(len(ids), dtype=np.int64)
        ground = ids < 0
        materials[ground] = layout.ground(xyz_global[ground, :2])[0]
        hit = np.flatnonzero(~ground)
        sid = ids[hit]
        materials[hit] = solids.materials[sid]
        patterned = solids.patterns[sid] != 0
        if patterned.any():
            sel, s = hit[patterned], sid[patterned]
            local = np.einsum('nji,nj->ni', solids.rotations[s],
                              xyz_global[sel] - solids.centers[s])
            glass = window_mask(solids.patterns[s], axis[sel], local, solids.half_extents[s])
            materials[sel[glass]] = material_id('glass')
        return materials

    def _ray_box_pairs(self, origin, rot_gs, boxes: BoxState):
        """The (box, azimuth column) pairs whose rays may meet the box: a convex box spans the
        azimuths of its corners (the sensor is outside it), plus one column of slack each side;
        boxes out of range are left out.

        Returns:
            ``pair_box`` and ``pair_col``, ``(P,)`` int each.
        """
        num_az, step = self.model.num_azimuths, self._step
        half, rots = boxes.half_extents, boxes.rotations
        local = np.einsum('bji,bj->bi', rots, origin - boxes.centers)
        reachable = np.linalg.norm(local - np.clip(local, -half, half), axis=1) <= \
            self.model.max_range
        corners_s = (boxes.corners() - origin) @ rot_gs  # sensor frame
        centers_s = (boxes.centers - origin) @ rot_gs
        az_center = np.arctan2(centers_s[:, 1], centers_s[:, 0])
        rel = np.angle(
            np.exp(1j * (np.arctan2(corners_s[..., 1], corners_s[..., 0]) - az_center[:, None])))
        j0 = np.floor((az_center + rel.min(1)) / step).astype(int) - 1
        j1 = np.ceil((az_center + rel.max(1)) / step).astype(int) + 1
        j1 = np.minimum(j1, j0 + num_az - 1)
        lengths = np.where(reachable, j1 - j0 + 1, 0)
        pair_box = np.repeat(np.arange(len(boxes)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return pair_box, (np.repeat(j0, lengths) + offsets) % num_az

    def _cast_boxes(self, origin, dirs, boxes: Solids, pair_box, pair_col, best_t, best_id,
                    best_exit, best_cos, best_axis, num_owners: int) -> np.ndarray:
        """Slab-tests the rays of every (solid, column) pair in the solids' frames and keeps the
        nearest hit per ray in the ``best_*`` arrays ``(32, A)`` (updated in place).

        Returns:
            ``(num_owners,)`` how many rays hit each object's parts within range, regardless of
            occlusion.
        """
        num_az = self.model.num_azimuths
        half = boxes.half_extents[pair_box]
        # Origin and directions in the boxes' (yaw-only) frames, one axis at a time.
        cos, sin = np.cos(boxes.yaws[pair_box]), np.sin(boxes.yaws[pair_box])
        rel = origin - boxes.centers[pair_box]
        o = (rel[:, 0] * cos + rel[:, 1] * sin, -rel[:, 0] * sin + rel[:, 1] * cos, rel[:, 2])
        dx, dy, dz = (dirs[:, pair_col, i] for i in range(3))  # (32, P) each
        d = (dx * cos + dy * sin, -dx * sin + dy * cos, dz)
        t_enter, t_exit = [], []
        for axis in range(3):
            inv = 1.0 / np.where(np.abs(d[axis]) < 1e-12, 1e-12, d[axis])
            t1, t2 = (-half[:, axis] - o[axis]) * inv, (half[:, axis] - o[axis]) * inv
            t_enter.append(np.minimum(t1, t2))
            t_exit.append(np.maximum(t1, t2))
        t_near = np.maximum(np.maximum(t_enter[0], t_enter[1]), t_enter[2])
        t_far = np.minimum(np.minimum(t_exit[0], t_exit[1]), t_exit[2])
        hit = (t_far >= t_near) & (t_near > 0) & (t_near <= self.model.max_range)
        hr, hp = np.nonzero(hit)
        owner = boxes.owners[pair_box[hp]]
        mine = owner >= 0
        # A ray counts once per object, however many of its parts it passes through.
        keys = np.unique(owner[mine] * best_t.size + hr[mine] * num_az + pair_col[hp[mine]])
        hits_possible = np.bincount(keys // best_t.size, minlength=num_owners)
        r, p = np.nonzero(hit & (t_near < best_t[:, pair_col]))
        ray = r * num_az + pair_col[p]
        order = np.lexsort((t_near[r, p], ray))  # per ray, nearest box first
        first = order[np.unique(ray[order], return_index=True)[1]]
        r, p, ray = r[first], p[first], ray[first]
        best_t.flat[ray] = t_near[r, p]
        best_id.flat[ray] = pair_box[p]
        best_exit.flat[ray] = t_far[r, p]
        # The face hit is the one of the axis whose slab is entered last.
        face_axis = np.argmax(np.stack([t[r, p] for t in t_enter]), axis=0)
        best_cos.flat[ray] = np.abs(np.stack([c[r, p] for c in d])[face_axis, np.arange(len(ray))])
        best_axis.flat[ray] = face_axis
        return hits_possible.astype(np.int64)

    def _count_inside(self, xyz_global, point_at, pair_box, pair_col, boxes):
        """Counts the points inside each box and drops those within BOUNDARY_MARGIN of a face.

        Only the points on a box's (box, column) pairs' rays can lie in it: ``point_at``
        ``(32, A)`` maps each ray to its point (-1: none).

        Args:
            xyz_global: ``(N, 3)`` the written (float32) points in the global frame.

        Returns:
            ``keep`` ``(N,)`` bool and ``counts`` ``(B,)`` int64.
        """
        candidates = point_at[:, pair_col]  # (32, P)
        r, p = np.nonzero(candidates >= 0)
        index, box = candidates[r, p], pair_box[p]
        local = np.einsum('nji,nj->ni', boxes.rotations[box],
                          xyz_global[index] - boxes.centers[box])
        margin = np.min(boxes.half_extents[box] - np.abs(local), axis=1)
        keep = np.ones(len(xyz_global), dtype=bool)
        keep[index[np.abs(margin) <= BOUNDARY_MARGIN]] = False
        inside = (margin > BOUNDARY_MARGIN) & keep[index]
        return keep, np.bincount(box[inside], minlength=len(boxes)).astype(np.int64)
