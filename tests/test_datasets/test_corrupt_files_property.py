"""Property test: point files, images and info files corrupted at random either load as valid
data or fail with one of the project's errors (simdistill.errors.InputError), never with an
anonymous numpy/cv2/pickle exception or a crash."""
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdistill.errors import InputError
from simdistill.testing import (CAMERAS, LOAD_DIM, build_dataset, camera_results, info_sample,
                               load_images, load_points, load_sweep, nuscenes_metainfo)

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def corrupt(data: bytes, how: str, draw) -> bytes:
    """``data`` damaged as a disk, a copy or a writer might damage it."""
    if how == 'truncate':
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    if how == 'flip bytes':
        out = bytearray(data)
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            out[pos] ^= draw(st.integers(1, 255))
        return bytes(out)
    if how == 'random bytes':
        return draw(st.binary(min_size=0, max_size=400))
    if how == 'zero length':
        return b''
    if how == 'append garbage':
        return data + draw(st.binary(min_size=1, max_size=19))
    raise ValueError(how)


CORRUPTIONS = st.sampled_from(['truncate', 'flip bytes', 'random bytes', 'zero length',
                               'append garbage'])


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp('corrupt')


@SETTINGS
@given(num_points=st.integers(1, 40), how=st.one_of(CORRUPTIONS, st.just('float64')),
       data=st.data())
def test_corrupt_point_files_load_whole_points_or_fail_clearly(folder, num_points, how, data):
    points = np.random.RandomState(num_points).uniform(-50, 50, (num_points, LOAD_DIM))
    if how == 'float64':  # a writer that forgot the dtype: twice the bytes
        raw = points.astype(np.float64).tobytes()
    else:
        raw = corrupt(points.astype(np.float32).tobytes(), how, data.draw)
    path = folder / 'points.pcd.bin'
    path.write_bytes(raw)
    (folder / 'key.pcd.bin').write_bytes(np.ones((2, LOAD_DIM), np.float32).tobytes())
    for sweep in (False, True):
        try:
            if sweep:  # the key frame's 2 points, then the sweep's (identity pose, time 0)
                loaded = load_sweep(folder / 'key.pcd.bin', path).tensor.numpy()[2:]
            else:
                loaded = load_points(path)
        except InputError as err:
            assert str(path) in str(err)
            continue
        # Loaded: then the file was whole finite points, and they are exactly its values.
        values = np.frombuffer(raw, np.float32)
        assert len(raw) % (4 * LOAD_DIM) == 0 and np.isfinite(values).all()
        expected = values.reshape(-1, LOAD_DIM)
        if sweep:  # the sweep loader writes the time since the key frame (0 here) in column 4
            expected = np.concatenate([expected[:, :4], np.zeros_like(expected[:, :1])], 1)
        np.testing.assert_array_equal(loaded, expected)


@SETTINGS
@given(how=CORRUPTIONS, camera=st.sampled_from(CAMERAS), data=st.data())
def test_corrupt_images_load_as_images_or_fail_clearly(folder, how, camera, data):
    results = camera_results(folder)
    path = results['images'][camera]['img_path']
    with open(path, 'rb') as f:
        raw = corrupt(f.read(), how, data.draw)
    with open(path, 'wb') as f:
        f.write(raw)
    try:
        loaded = load_images(results)
    except InputError as err:
        assert camera in str(err) and osp.basename(path) in str(err)
        return
    # Loaded: the damaged file still decodes (e.g. a JPEG missing its tail), as cv2 reads it.
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    image = loaded['img'][CAMERAS.index(camera)]
    assert image.ndim == 3 and image.shape[2] == 3
    h, w = decoded.shape[:2]
    np.testing.assert_array_equal(image[:h, :w], decoded.astype(np.float32))


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=CORRUPTIONS, data=st.data())
def test_corrupt_info_files_build_or_fail_clearly(folder, how, data):
    infos = dict(metainfo=nuscenes_metainfo(), data_list=[info_sample(i) for i in range(3)])
    raw = corrupt(pickle.dumps(infos, protocol=4), how, data.draw)
    (folder / 'infos.pkl').write_bytes(raw)
    try:
        dataset = build_dataset(folder)
    except InputError as err:
        assert 'infos.pkl' in str(err)
        return
    assert len(dataset) == len(pickle.loads(raw)['data_list'])
