"""Tests of the multi-view data-pipeline transforms (simdistill.datasets.transforms).

Everything is synthetic: six nuScenes-like cameras (intrinsics scaled to 160x90 images, yaw
0/-55/55/180/110/-110 degrees), random points and a few 9-dim LiDAR boxes. Expected values are
computed here in float64 numpy, independently of the transforms' own matrix code.
"""
import copy
import inspect
import math

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmdet3d.datasets.transforms import Pack3DDetInputs
from mmdet3d.registry import TRANSFORMS
from mmdet3d.structures import Box3DMode, LiDARInstance3DBoxes
from mmdet3d.structures.points import LiDARPoints

from simdistill.datasets.transforms import (BEV_META_KEYS, BEVGlobalRotScaleTrans, BEVRandomFlip3D,
                                            LoadMultiViewImagesWithCalib, MultiViewGridMask,
                                            MultiViewImageAug3D)
from simdistill.datasets.transforms.grid_mask import make_grid_mask

RAW_H, RAW_W = 90, 160
FINAL_DIM = (64, 128)
CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT',
           'CAM_BACK_RIGHT')
CAM_YAWS_DEG = (0.0, -55.0, 55.0, 180.0, 110.0, -110.0)
INTRINSICS = [[126.6, 0.0, 81.6], [0.0, 126.6, 49.2], [0.0, 0.0, 1.0]]  # 1/10 of nuScenes
BRIGHT = (45, 80)  # (row, column) of the painted pixel in every raw image


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def lidar2cam_of(yaw_deg: float, pitch_deg: float = 2.0) -> np.ndarray:
    """Extrinsics of a camera looking along ``yaw_deg`` (LiDAR frame), slightly pitched."""
    # camera axes (x right, y down, z forward) in the LiDAR frame for a camera looking at +x
    base = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    p = math.radians(pitch_deg)
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), -math.sin(p)],
                      [0.0, math.sin(p), math.cos(p)]])
    yaw = math.radians(yaw_deg)
    cam2lidar = np.eye(4)
    cam2lidar[:3, :3] = rot_z(yaw) @ base @ pitch
    cam2lidar[:3, 3] = [0.8 * math.cos(yaw), 0.8 * math.sin(yaw), -0.3]
    return np.linalg.inv(cam2lidar)


def pad4(mat) -> np.ndarray:
    out = np.eye(4)
    mat = np.asarray(mat, dtype=np.float64)
    out[:mat.shape[0], :mat.shape[1]] = mat
    return out


def project(lidar2img: np.ndarray, pts: np.ndarray):
    """(M, 3) points -> (M, 2) pixels and (M,) depths, in float64."""
    q = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(
        lidar2img, dtype=np.float64).T
    return q[:, :2] / q[:, 2:3], q[:, 2]


def apply_uv(img_aug: np.ndarray, uv: np.ndarray) -> np.ndarray:
    img_aug = np.asarray(img_aug, dtype=np.float64)
    return uv @ img_aug[:2, :2].T + img_aug[:2, 3]


def transform_pts(mat: np.ndarray, pts: np.ndarray) -> np.ndarray:
    mat = np.asarray(mat, dtype=np.float64)
    return pts @ mat[:3, :3].T + mat[:3, 3]


def heading(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(yaw), np.sin(yaw)], axis=1)


def make_boxes() -> LiDARInstance3DBoxes:
    """One box in front of each camera, alternately near (8 m) and far (25 m)."""
    rng = np.random.RandomState(7)
    rows = []
    for i, yaw_deg in enumerate(CAM_YAWS_DEG):
        dist = 8.0 if i % 2 == 0 else 25.0
        a = math.radians(yaw_deg)
        rows.append([
            dist * math.cos(a), dist * math.sin(a), -1.8, 4.2, 1.9, 1.6,
            rng.uniform(-math.pi, math.pi),
            rng.uniform(-5, 5),
            rng.uniform(-5, 5)
        ])
    return LiDARInstance3DBoxes(torch.tensor(rows, dtype=torch.float32), box_dim=9)


def make_images(seed: int = 0, flat: bool = False):
    """Random dark images (flat grey 10 if ``flat``) with one white pixel at BRIGHT."""
    rng = np.random.RandomState(seed)
    imgs = []
    for _ in CAMERAS:
        img = rng.randint(0, 100, size=(RAW_H, RAW_W, 3)).astype(np.uint8)
        if flat:
            img[:] = 10
        img[BRIGHT] = 255
        imgs.append(img)
    return imgs


def make_info(tmp_path) -> dict:
    """Results as mmdet3d's Det3DDataset hands them to the pipeline (images on disk)."""
    rng = np.random.RandomState(1)
    images = {}
    for cam, yaw, img in zip(CAMERAS, CAM_YAWS_DEG, make_images()):
        path = str(tmp_path / f'{cam}.png')
        cv2.imwrite(path, img)
        images[cam] = dict(
            img_path=path, cam2img=copy.deepcopy(INTRINSICS), lidar2cam=lidar2cam_of(yaw).tolist())
    points = np.concatenate([
        rng.uniform([-40, -40, -3], [40, 40, 2], size=(2000, 3)),
        rng.uniform(0, 255, size=(2000, 1)),
        rng.randint(0, 32, size=(2000, 1))
    ],
                            axis=1).astype(np.float32)
    return dict(
        images=images,
        # Det3DDataset leaves the default camera's lidar2img here; the loader must replace it
        lidar2img=np.eye(4),
        points=LiDARPoints(points, points_dim=5),
        gt_bboxes_3d=make_boxes(),
        gt_labels_3d=np.arange(len(CAMERAS), dtype=np.int64),
        box_type_3d=LiDARInstance3DBoxes,
        box_mode_3d=Box3DMode.LIDAR,
        sample_idx=0)


def raw_geometry():
    cam2img = np.stack([pad4(INTRINSICS)] * len(CAMERAS))
    lidar2cam = np.stack([lidar2cam_of(yaw) for yaw in CAM_YAWS_DEG])
    return cam2img, lidar2cam


@pytest.fixture
def loaded(tmp_path) -> dict:
    return LoadMultiViewImagesWithCalib(num_views=6)(make_info(tmp_path))


def corners_of(boxes: LiDARInstance3DBoxes) -> np.ndarray:
    return boxes.corners.numpy().astype(np.float64).reshape(-1, 3)


def check_projection_after_lidar_aug(before: dict, after: dict) -> None:
    """A raw box corner moved by lidar_aug_matrix projects through the new lidar2img to where
    the raw corner projected through the raw lidar2img; and the moved corners are the corners
    of the augmented boxes (in some order: a flip mirrors the corner order)."""
    aug = np.asarray(after['lidar_aug_matrix'], np.float64)
    raw_corners = corners_of(before['gt_bboxes_3d'])
    moved = transform_pts(aug, raw_corners)
    box_corners = corners_of(after['gt_bboxes_3d'])
    dist = np.linalg.norm(moved.reshape(-1, 8, 1, 3) - box_corners.reshape(-1, 1, 8, 3), axis=-1)
    assert np.all(dist.min(-1) < 1e-3)
    checked = 0
    for view in range(len(CAMERAS)):
        uv0, d0 = project(before['lidar2img'][view], raw_corners)
        uv1, d1 = project(after['lidar2img'][view], moved)
        front = d0 > 0.5
        np.testing.assert_allclose(d1, d0, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(uv1[front], uv0[front], rtol=1e-4, atol=2e-3)
        checked += front.sum()
    assert checked >= 8 * len(CAMERAS)


# ------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------
def test_loader_sets_geometry(loaded):
    cam2img, lidar2cam = raw_geometry()
    assert loaded['cam2img'].shape == (6, 4, 4) and loaded['cam2img'].dtype == np.float32
    np.testing.assert_allclose(loaded['cam2img'], cam2img, rtol=1e-6)
    np.testing.assert_allclose(loaded['lidar2cam'], lidar2cam, rtol=1e-6, atol=1e-6)
    assert loaded['lidar2img'].shape == (6, 4, 4) and loaded['lidar2img'].dtype == np.float32
    np.testing.assert_allclose(loaded['lidar2img'], cam2img @ lidar2cam, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(loaded['img_aug_matrix'], np.tile(np.eye(4), (6, 1, 1)))
    np.testing.assert_array_equal(loaded['lidar_aug_matrix'], np.eye(4))
    for img, raw in zip(loaded['img'], make_images()):
        np.testing.assert_array_equal(img, raw)
    # every box centre projects into the image of the camera it was placed in front of
    centres = loaded['gt_bboxes_3d'].gravity_center.numpy().astype(np.float64)
    for view in range(6):
        uv, depth = project(loaded['lidar2img'][view], centres[view:view + 1])
        assert depth[0] > 0 and 0 <= uv[0, 0] < RAW_W and 0 <= uv[0, 1] < RAW_H


# ------------------------------------------------------------------------------------------
# image augmentation
# ------------------------------------------------------------------------------------------
def train_image_aug(**kwargs) -> MultiViewImageAug3D:
    cfg = dict(
        final_dim=FINAL_DIM,
        resize_lim=(0.8, 1.2),
        bot_pct_lim=(0.0, 0.2),
        rot_lim=(-5.4, 5.4),
        rand_flip=True,
        is_train=True)
    cfg.update(kwargs)
    return MultiViewImageAug3D(**cfg)


@pytest.mark.parametrize('seed', range(4))
def test_image_aug_projection(loaded, seed):
    np.random.seed(seed)
    raw = copy.deepcopy(loaded)
    out = train_image_aug()(loaded)
    corners = corners_of(out['gt_bboxes_3d'])
    assert out['img_aug_matrix'].shape == (6, 4, 4)
    assert out['img_aug_matrix'].dtype == np.float32
    for view in range(6):
        aug = out['img_aug_matrix'][view].astype(np.float64)
        np.testing.assert_array_equal(aug[2:], [[0, 0, 1, 0], [0, 0, 0, 1]])
        np.testing.assert_array_equal(aug[:2, 2], [0, 0])
        uv_raw, d_raw = project(raw['lidar2img'][view], corners)
        uv_new, d_new = project(out['lidar2img'][view], corners)
        front = d_raw > 0.5
        assert front.sum() >= 8
        np.testing.assert_allclose(d_new, d_raw, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(
            uv_new[front], apply_uv(aug, uv_raw[front]), rtol=1e-5, atol=2e-3)
    # left-multiplying the BEVFusion matrix without moving its translation would be wrong
    naive = out['img_aug_matrix'][0].astype(np.float64) @ raw['lidar2img'][0]
    uv_naive, _ = project(naive, corners)
    uv_good, _ = project(out['lidar2img'][0], corners)
    assert np.abs(uv_naive - uv_good).max() > 1.0
    for img in out['img']:
        assert img.shape == (*FINAL_DIM, 3) and img.dtype == np.uint8
    assert out['img_shape'] == FINAL_DIM and out['pad_shape'] == FINAL_DIM
    assert tuple(out['ori_shape']) == (RAW_H, RAW_W)


def test_image_aug_samples_flips_and_rotations(loaded):
    np.random.seed(3)
    dets, angles = [], []
    for _ in range(5):
        out = train_image_aug()(copy.deepcopy(loaded))
        lin = out['img_aug_matrix'][:, :2, :2].astype(np.float64)
        dets.extend(np.linalg.det(lin))
        angles.extend(np.degrees(np.arctan2(lin[:, 0, 1], np.abs(lin[:, 0, 0]))))
    dets, angles = np.array(dets), np.array(angles)
    assert (dets < 0).any() and (dets > 0).any()  # both flipped and unflipped views
    assert np.all(np.abs(angles) <= 5.4 + 1e-4) and np.abs(angles).max() > 1.0
    scales = np.sqrt(np.abs(dets))
    assert np.all((scales > 0.8 - 1e-5) & (scales < 1.2 + 1e-5))


@pytest.mark.parametrize('seed', range(4))
def test_bright_pixel_lands_where_matrix_says_bilinear(loaded, seed):
    np.random.seed(seed)
    # flat background: after blending, the brightest pixel is the one nearest the white one
    loaded['img'] = make_images(flat=True)
    out = train_image_aug(interpolation='bilinear')(loaded)
    src = np.array([BRIGHT[1] + 0.5, BRIGHT[0] + 0.5])  # continuous (u, v) of the centre
    for view, img in enumerate(out['img']):
        u, v = apply_uv(out['img_aug_matrix'][view], src[None])[0]
        assert 0 <= u < FINAL_DIM[1] and 0 <= v < FINAL_DIM[0]
        weight = img.astype(np.float64).sum(-1) - 30
        row, col = np.unravel_index(np.argmax(weight), img.shape[:2])
        assert weight[row, col] > 50
        assert math.hypot(col + 0.5 - u, row + 0.5 - v) <= 1.0, (view, (col, row), (u, v))
        # the blurred spot is centred on the prediction
        weight = np.clip(weight, 0, None)
        rows, cols = np.indices(weight.shape) + 0.5
        centroid = (np.sum(cols * weight) / weight.sum(), np.sum(rows * weight) / weight.sum())
        assert math.hypot(centroid[0] - u, centroid[1] - v) <= 0.5, (view, centroid, (u, v))


@pytest.mark.parametrize('seed', range(4))
def test_bright_pixel_exact_with_nearest(loaded, seed):
    np.random.seed(seed)
    # enlarging + nearest + no rotation: the painted pixel is copied, never blended away
    out = train_image_aug(
        interpolation='nearest', resize_lim=(1.05, 1.3), rot_lim=(0.0, 0.0))(
            loaded)
    src = np.array([BRIGHT[1] + 0.5, BRIGHT[0] + 0.5])
    for view, img in enumerate(out['img']):
        u, v = apply_uv(out['img_aug_matrix'][view], src[None])[0]
        np.testing.assert_array_equal(img[int(v), int(u)], [255, 255, 255])
        bright = np.argwhere(img.min(-1) == 255)
        assert len(bright) >= 1
        # the bright blob is the painted pixel scaled by s < 1.3: within 1 px of the prediction
        assert np.all(np.abs(bright + 0.5 - [v, u]) <= 1.0)


def test_test_mode_is_deterministic_pure_scale_crop(loaded):
    aug = MultiViewImageAug3D(
        final_dim=FINAL_DIM,
        resize_lim=(0.8, 1.0),
        bot_pct_lim=(0.0, 0.2),
        rot_lim=(-5.4, 5.4),
        rand_flip=True,
        is_train=False)
    raw = copy.deepcopy(loaded)
    np.random.seed(0)
    first = aug(copy.deepcopy(loaded))
    np.random.seed(1)
    second = aug(copy.deepcopy(loaded))
    for a, b in zip(first['img'], second['img']):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first['img_aug_matrix'], second['img_aug_matrix'])
    np.testing.assert_array_equal(first['lidar2img'], second['lidar2img'])
    # by hand: s = 0.9, resized 144 x 81; bottom cut 10 % -> top = int(0.9 * 81) - 64 = 8;
    # centred horizontally -> left = (144 - 128) / 2 = 8
    expected = np.array([[0.9, 0, 0, -8], [0, 0.9, 0, -8], [0, 0, 1, 0], [0, 0, 0, 1]])
    for view in range(6):
        np.testing.assert_allclose(first['img_aug_matrix'][view], expected, atol=1e-6)
        reference = cv2.resize(
            raw['img'][view], None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)[8:72, 8:136]
        np.testing.assert_array_equal(first['img'][view], reference)


def test_rotation_convention_by_hand(loaded):
    # no resize, no crop (window = whole image), no flip, exactly +10 degrees
    aug = MultiViewImageAug3D(
        final_dim=(RAW_H, RAW_W), resize_lim=(1.0, 1.0), rot_lim=(10.0, 10.0), is_train=True)
    out = aug(loaded)
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    centre = np.array([RAW_W / 2, RAW_H / 2])
    expected = np.eye(4)
    expected[:2, :2] = [[c, s], [-s, c]]
    expected[:2, 3] = centre - expected[:2, :2] @ centre
    np.testing.assert_allclose(out['img_aug_matrix'][0], expected, atol=1e-5)
    # positive angle: content turns counter-clockwise on screen, so a point 30 px right of
    # the centre moves up (smaller v, y pointing down)
    u, v = apply_uv(out['img_aug_matrix'][0], (centre + [30.0, 0.0])[None])[0]
    np.testing.assert_allclose([u, v], centre + [30 * c, -30 * s], atol=1e-4)
    row, col = np.unravel_index(
        np.argmax(out['img'][0].astype(np.int32).sum(-1)), out['img'][0].shape[:2])
    u, v = apply_uv(out['img_aug_matrix'][0], np.array([[BRIGHT[1] + 0.5, BRIGHT[0] + 0.5]]))[0]
    assert math.hypot(col + 0.5 - u, row + 0.5 - v) <= 1.0


def test_image_aug_twice_composes(loaded):
    np.random.seed(5)
    raw = copy.deepcopy(loaded)
    out = train_image_aug()(loaded)
    first = out['img_aug_matrix'].astype(np.float64).copy()
    out = MultiViewImageAug3D(final_dim=(32, 64), resize_lim=(0.5, 0.5))(out)
    # second pass: deterministic s = 0.5 of 128 x 64 -> 64 x 32, no crop
    second = np.diag([0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(out['img_aug_matrix'], second @ first, rtol=1e-6, atol=1e-5)
    corners = corners_of(out['gt_bboxes_3d'])
    for view in range(6):
        uv_raw, d_raw = project(raw['lidar2img'][view], corners)
        uv_new, _ = project(out['lidar2img'][view], corners)
        front = d_raw > 0.5
        np.testing.assert_allclose(
            uv_new[front], apply_uv(second @ first[view], uv_raw[front]), atol=2e-3)


# ------------------------------------------------------------------------------------------
# LiDAR augmentation
# ------------------------------------------------------------------------------------------
def check_lidar_aug(before: dict, after: dict, aug: np.ndarray) -> None:
    """Points, boxes (centre, yaw, size, velocity) moved exactly as ``aug`` says."""
    p0 = before['points'].tensor.numpy().astype(np.float64)
    p1 = after['points'].tensor.numpy().astype(np.float64)
    np.testing.assert_allclose(p1[:, :3], transform_pts(aug, p0[:, :3]), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(p1[:, 3:], p0[:, 3:])
    b0 = before['gt_bboxes_3d'].tensor.numpy().astype(np.float64)
    b1 = after['gt_bboxes_3d'].tensor.numpy().astype(np.float64)
    np.testing.assert_allclose(b1[:, :3], transform_pts(aug, b0[:, :3]), rtol=1e-5, atol=1e-4)
    lin = aug[:2, :2]
    scale = math.sqrt(abs(np.linalg.det(lin)))
    expected_heading = heading(b0[:, 6]) @ lin.T / scale
    np.testing.assert_allclose(heading(b1[:, 6]), expected_heading, atol=1e-5)
    np.testing.assert_allclose(b1[:, 3:6], b0[:, 3:6] * scale, rtol=1e-5)
    np.testing.assert_allclose(b1[:, 7:9], b0[:, 7:9] @ lin.T, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('seed', range(3))
def test_global_rot_scale_trans_records_what_it_did(loaded, seed):
    np.random.seed(seed)
    before = copy.deepcopy(loaded)
    out = BEVGlobalRotScaleTrans(
        rot_range=[-0.785, 0.785], scale_ratio_range=[0.9, 1.1], translation_std=[1.0, 1.0, 0.5])(
            loaded)
    aug = out['lidar_aug_matrix'].astype(np.float64)
    assert out['lidar_aug_matrix'].dtype == np.float32
    # by hand: counter-clockwise rotation by the recorded angle, then scale, then shift
    theta = float(out['pcd_rotation_angle'])
    scale = float(out['pcd_scale_factor'])
    assert abs(theta) > 1e-3 and abs(scale - 1) > 1e-4
    np.testing.assert_allclose(aug[:3, :3], scale * rot_z(theta), atol=1e-6)
    np.testing.assert_allclose(aug[:3, 3], out['pcd_trans'], atol=1e-6)
    np.testing.assert_array_equal(aug[3], [0, 0, 0, 1])
    np.testing.assert_allclose(
        out['gt_bboxes_3d'].tensor[:, 6].numpy(),
        before['gt_bboxes_3d'].tensor[:, 6].numpy() + theta,
        atol=1e-5)
    check_lidar_aug(before, out, aug)
    check_projection_after_lidar_aug(before, out)
    for a, b in zip(out['img'], before['img']):
        np.testing.assert_array_equal(a, b)


def test_global_rot_without_boxes(loaded):
    np.random.seed(11)
    loaded['gt_bboxes_3d'] = LiDARInstance3DBoxes(torch.zeros((0, 9)), box_dim=9)
    loaded['gt_labels_3d'] = np.zeros(0, dtype=np.int64)
    before = copy.deepcopy(loaded)
    out = BEVGlobalRotScaleTrans(
        rot_range=[-0.785, 0.785], scale_ratio_range=[0.9, 1.1], translation_std=[1.0, 1.0, 0.5])(
            loaded)
    aug = out['lidar_aug_matrix'].astype(np.float64)
    np.testing.assert_allclose(
        aug[:3, :3], out['pcd_scale_factor'] * rot_z(out['pcd_rotation_angle']), atol=1e-6)
    p0 = before['points'].tensor.numpy().astype(np.float64)
    p1 = out['points'].tensor.numpy().astype(np.float64)
    np.testing.assert_allclose(p1[:, :3], transform_pts(aug, p0[:, :3]), rtol=1e-5, atol=1e-4)
    # points still project onto their raw pixels
    for view in range(6):
        uv0, d0 = project(before['lidar2img'][view], p0[:, :3])
        uv1, _ = project(out['lidar2img'][view], p1[:, :3])
        front = d0 > 0.5
        np.testing.assert_allclose(uv1[front], uv0[front], rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize('horizontal,vertical', [(True, False), (False, True), (True, True)])
def test_random_flip_records_what_it_did(loaded, horizontal, vertical):
    before = copy.deepcopy(loaded)
    out = BEVRandomFlip3D(
        flip_ratio_bev_horizontal=float(horizontal), flip_ratio_bev_vertical=float(vertical))(
            loaded)
    assert out['pcd_horizontal_flip'] is horizontal and out['pcd_vertical_flip'] is vertical
    # by hand: horizontal negates y, vertical negates x
    expected = np.diag([-1.0 if vertical else 1.0, -1.0 if horizontal else 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(out['lidar_aug_matrix'], expected)
    yaw0 = before['gt_bboxes_3d'].tensor[:, 6].numpy().astype(np.float64)
    yaw_expected = yaw0.copy()
    if horizontal:
        yaw_expected = -yaw_expected
    if vertical:
        yaw_expected = math.pi - yaw_expected
    np.testing.assert_allclose(
        heading(out['gt_bboxes_3d'].tensor[:, 6].numpy()), heading(yaw_expected), atol=1e-5)
    check_lidar_aug(before, out, expected)
    check_projection_after_lidar_aug(before, out)
    for a, b in zip(out['img'], before['img']):  # the images are never flipped
        np.testing.assert_array_equal(a, b)


def test_random_flip_off_is_identity(loaded):
    before = copy.deepcopy(loaded)
    out = BEVRandomFlip3D(flip_ratio_bev_horizontal=0.0, flip_ratio_bev_vertical=0.0)(loaded)
    np.testing.assert_array_equal(out['lidar_aug_matrix'], np.eye(4))
    np.testing.assert_array_equal(out['lidar2img'], before['lidar2img'])
    np.testing.assert_array_equal(out['points'].tensor, before['points'].tensor)


def test_lidar_aug_before_geometry_is_initialised(tmp_path):
    """Plain mmdet3d loader (no geometry keys), LiDAR aug first, image aug second."""
    np.random.seed(2)
    results = TRANSFORMS.build(dict(type='LoadMultiViewImageFromFiles', num_views=6))(
        make_info(tmp_path))
    assert 'img_aug_matrix' not in results
    results = BEVGlobalRotScaleTrans(
        rot_range=[-0.5, 0.5], scale_ratio_range=[0.9, 1.1], translation_std=[0.5, 0.5, 0.2])(
            results)
    results = train_image_aug()(results)
    cam2img, lidar2cam = raw_geometry()
    aug = np.asarray(results['lidar_aug_matrix'], np.float64)
    assert not np.allclose(aug, np.eye(4))
    for view in range(6):
        proj = np.asarray(results['img_aug_matrix'][view], np.float64).copy()
        proj[:2, 2] += proj[:2, 3]
        proj[:2, 3] = 0
        expected = proj @ cam2img[view] @ lidar2cam[view] @ np.linalg.inv(aug)
        np.testing.assert_allclose(results['lidar2img'][view], expected, rtol=1e-4, atol=1e-3)


def test_lidar_aug_without_images_records_matrix_only():
    np.random.seed(4)
    results = dict(
        points=LiDARPoints(np.random.rand(50, 4).astype(np.float32), points_dim=4),
        gt_bboxes_3d=make_boxes(),
        gt_labels_3d=np.arange(6))
    before = copy.deepcopy(results)
    results = BEVGlobalRotScaleTrans(rot_range=[-0.5, 0.5])(results)
    results = BEVRandomFlip3D(flip_ratio_bev_horizontal=1.0)(results)
    assert 'lidar2img' not in results and 'img_aug_matrix' not in results
    aug = np.asarray(results['lidar_aug_matrix'], np.float64)
    p0 = before['points'].tensor.numpy().astype(np.float64)[:, :3]
    np.testing.assert_allclose(
        results['points'].tensor.numpy()[:, :3], transform_pts(aug, p0), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------
# whole pipeline
# ------------------------------------------------------------------------------------------
POINT_CLOUD_RANGE = [-18.0, -18.0, -5.0, 18.0, 18.0, 3.0]


def test_full_train_pipeline_keeps_invariant(tmp_path):
    np.random.seed(8)
    pipeline = Compose([
        TRANSFORMS.build(cfg) for cfg in [
            dict(type='LoadMultiViewImagesWithCalib', num_views=6),
            dict(
                type='MultiViewImageAug3D',
                final_dim=FINAL_DIM,
                resize_lim=(0.8, 1.2),
                bot_pct_lim=(0.0, 0.2),
                rot_lim=(-5.4, 5.4),
                rand_flip=True,
                is_train=True),
            dict(
                type='BEVGlobalRotScaleTrans',
                rot_range=[-0.785, 0.785],
                scale_ratio_range=[0.9, 1.1],
                translation_std=[0.5, 0.5, 0.5]),
            dict(
                type='BEVRandomFlip3D', flip_ratio_bev_horizontal=1.0,
                flip_ratio_bev_vertical=1.0),
            dict(type='PointsRangeFilter', point_cloud_range=POINT_CLOUD_RANGE),
            dict(type='ObjectRangeFilter', point_cloud_range=POINT_CLOUD_RANGE),
            dict(type='ObjectNameFilter', classes=[f'c{i}' for i in range(6)]),
            dict(type='MultiViewGridMask', prob=1.0, ratio=0.3, period_lim=(8, 20)),
        ]
    ])
    raw_boxes = make_boxes().tensor.numpy().astype(np.float64)
    results = pipeline(make_info(tmp_path))
    aug = np.asarray(results['lidar_aug_matrix'], np.float64)
    cam2img, lidar2cam = raw_geometry()
    for view in range(6):
        proj = np.asarray(results['img_aug_matrix'][view], np.float64).copy()
        proj[:2, 2] += proj[:2, 3]
        proj[:2, 3] = 0
        expected = proj @ cam2img[view] @ lidar2cam[view] @ np.linalg.inv(aug)
        np.testing.assert_allclose(results['lidar2img'][view], expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(results['cam2img'], cam2img, rtol=1e-6)
    # ObjectRangeFilter sees the augmented boxes: keep those whose moved centre is in range
    centres = transform_pts(aug, raw_boxes[:, :3])
    keep = ((centres[:, 0] > -18) & (centres[:, 0] < 18) & (centres[:, 1] > -18)
            & (centres[:, 1] < 18))
    assert keep.any() and not keep.all()
    np.testing.assert_array_equal(results['gt_labels_3d'], np.arange(6)[keep])
    np.testing.assert_allclose(
        results['gt_bboxes_3d'].tensor.numpy()[:, :3], centres[keep], rtol=1e-5, atol=1e-4)
    pts = results['points'].tensor.numpy()
    assert np.all(np.abs(pts[:, :2]) < 18)

    packed = TRANSFORMS.build(
        dict(
            type='Pack3DDetInputs',
            keys=['points', 'img', 'gt_bboxes_3d', 'gt_labels_3d'],
            meta_keys=BEV_META_KEYS))(
                results)
    assert packed['inputs']['img'].shape == (6, 3, *FINAL_DIM)
    assert packed['inputs']['img'].dtype == torch.uint8
    meta = packed['data_samples'].metainfo
    for key in ('img_aug_matrix', 'lidar2img', 'cam2img', 'lidar2cam'):
        assert np.asarray(meta[key]).shape == (6, 4, 4), key
    np.testing.assert_array_equal(meta['lidar_aug_matrix'], results['lidar_aug_matrix'])
    assert meta['img_shape'] == FINAL_DIM
    assert len(packed['data_samples'].gt_instances_3d.bboxes_3d) == keep.sum()


# ------------------------------------------------------------------------------------------
# GridMask
# ------------------------------------------------------------------------------------------
def test_grid_mask_rows(loaded):
    np.random.seed(0)
    before = copy.deepcopy(loaded)
    out = MultiViewGridMask(
        prob=1.0, use_h=True, use_w=False, ratio=0.5, period_lim=(8, 9))(
            loaded)
    assert out['grid_mask_applied']
    for img, raw in zip(out['img'], before['img']):
        assert img.shape == raw.shape and img.dtype == np.uint8
        blank = np.all(img == 0, axis=(1, 2))
        # every row is either blanked or untouched
        untouched = np.all(img == raw, axis=(1, 2))
        assert np.all(blank | untouched)
        # period 8, band 4: exactly 4 blank rows in every 8 consecutive rows
        counts = [blank[i:i + 8].sum() for i in range(len(blank) - 8)]
        assert set(counts) == {4}


def test_grid_mask_keep_is_complement(loaded):
    drop = MultiViewGridMask(prob=1.0, ratio=0.4, period_lim=(10, 30), rot_lim=(-30, 30))
    keep = MultiViewGridMask(
        prob=1.0, ratio=0.4, period_lim=(10, 30), rot_lim=(-30, 30), mode='keep')
    ones = [np.full((RAW_H, RAW_W, 3), 200, np.uint8) for _ in range(6)]
    np.random.seed(9)
    a = drop(dict(img=copy.deepcopy(ones)))['img']
    np.random.seed(9)
    b = keep(dict(img=copy.deepcopy(ones)))['img']
    for x, y in zip(a, b):
        assert np.all((x == 0) != (y == 0))
        assert 0.3 < (x == 0).mean() < 0.9  # 1 - 0.6^2 = 0.64 of the pixels, up to rounding


def test_grid_mask_prob_zero_and_rotation(loaded):
    before = copy.deepcopy(loaded)
    out = MultiViewGridMask(prob=0.0)(loaded)
    assert not out['grid_mask_applied']
    for a, b in zip(out['img'], before['img']):
        np.testing.assert_array_equal(a, b)
    # horizontal bands rotated by 90 degrees are vertical bands: every column is constant
    mask = make_grid_mask(
        40,
        60,
        period=10,
        stripe=3,
        offset_y=2.0,
        offset_x=0.0,
        rot_deg=90.0,
        use_h=True,
        use_w=False)
    assert np.all(mask == mask[:1])
    assert mask[0].sum() == 18  # 60 columns, 3 of every 10


# ------------------------------------------------------------------------------------------
# bad input and registration
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs,name', [
    (dict(final_dim=(256, ), resize_lim=(0.4, 0.5)), 'final_dim'),
    (dict(final_dim=(256, 704.5), resize_lim=(0.4, 0.5)), 'final_dim'),
    (dict(final_dim=(256, 704), resize_lim=(0.5, )), 'resize_lim'),
    (dict(final_dim=(256, 704), resize_lim=(0.6, 0.5)), 'resize_lim'),
    (dict(final_dim=(256, 704), resize_lim=(0.4, 0.5), bot_pct_lim=(0.0, 1.2)), 'bot_pct_lim'),
    (dict(final_dim=(256, 704), resize_lim=(0.4, 0.5), rot_lim=5.4), 'rot_lim'),
    (dict(final_dim=(256, 704), resize_lim=(0.4, 0.5), interpolation='cubic'), 'interpolation'),
])
def test_image_aug_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MultiViewImageAug3D(**kwargs)


def test_bad_inputs_name_the_key(loaded):
    aug = MultiViewImageAug3D(final_dim=FINAL_DIM, resize_lim=(0.8, 1.0))
    fewer = copy.deepcopy(loaded)
    for key in ('img_aug_matrix', 'lidar2img'):
        fewer.pop(key)
    fewer['cam2img'] = fewer['cam2img'][:5]
    with pytest.raises(ValueError, match='cam2img'):
        aug(fewer)
    bad_extrinsics = copy.deepcopy(loaded)
    bad_extrinsics.pop('img_aug_matrix')
    bad_extrinsics['lidar2cam'] = [np.eye(3)] * 6
    with pytest.raises(ValueError, match='lidar2cam'):
        aug(bad_extrinsics)
    single = copy.deepcopy(loaded)
    single['img'] = single['img'][0]
    with pytest.raises(ValueError, match='img'):
        aug(single)
    with pytest.raises(ValueError, match='ratio'):
        MultiViewGridMask(ratio=1.5)


def test_loader_rejects_malformed_intrinsics(tmp_path):
    info = make_info(tmp_path)
    info['images']['CAM_FRONT']['cam2img'] = [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match=r'cam2img\[0\]'):
        LoadMultiViewImagesWithCalib(num_views=6)(info)


def test_meta_keys_extend_pack_defaults():
    default = inspect.signature(Pack3DDetInputs.__init__).parameters['meta_keys'].default
    assert set(default) <= set(BEV_META_KEYS)
    assert {'img_aug_matrix', 'lidar_aug_matrix', 'lidar2img', 'lidar2cam',
            'cam2img'} <= set(BEV_META_KEYS)


@pytest.mark.parametrize('name', [
    'LoadMultiViewImagesWithCalib', 'MultiViewImageAug3D', 'BEVGlobalRotScaleTrans',
    'BEVRandomFlip3D', 'MultiViewGridMask'
])
def test_registered(name):
    assert TRANSFORMS.get(name) is not None
    assert TRANSFORMS.get(name).__module__.startswith('simdistill.datasets.transforms')


def test_bev_augmentations_without_points_move_boxes_like_the_matrix():
    """Camera-only pipelines load no points: boxes and lidar_aug_matrix still move alike."""
    from mmdet3d.structures import LiDARInstance3DBoxes
    from simdistill.datasets.transforms import BEVGlobalRotScaleTrans, BEVRandomFlip3D
    boxes = LiDARInstance3DBoxes(
        torch.tensor([[10.0, 5.0, -1.0, 4.0, 2.0, 1.5, 0.3], [-3.0, 8.0, -1.2, 1.0, 1.0, 1.8,
                                                                -1.0]]))
    results = dict(gt_bboxes_3d=boxes.clone())
    np.random.seed(3)
    results = BEVGlobalRotScaleTrans(rot_range=[0.2, 0.2], scale_ratio_range=[1.1, 1.1],
                                     translation_std=[0.5, 0.5, 0.0]).transform(results)
    results = BEVRandomFlip3D(flip_ratio_bev_horizontal=1.0).transform(results)
    assert 'points' not in results
    aug = np.asarray(results['lidar_aug_matrix'], dtype=np.float64)
    raw = boxes.gravity_center.numpy().astype(np.float64)
    moved = raw @ aug[:3, :3].T + aug[:3, 3]
    np.testing.assert_allclose(results['gt_bboxes_3d'].gravity_center.numpy(), moved,
                               atol=1e-4)
