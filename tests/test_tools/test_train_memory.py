"""The training-memory benchmark's pieces: the emulated LiDAR has the stated size and shape,
and the PSS sampler sees this process and its children."""
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest

from simdistill.testing import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import train_memory  # noqa: E402


def test_emulated_lidar_is_ten_sweeps_of_a_32_beam_scanner():
    points = train_memory.lidar_sweeps(np.random.default_rng(0))
    assert points.shape == (10 * 32 * 1084, 5) and points.dtype == np.float32
    key_frame = points[points[:, 4] == 0]
    distance = np.hypot(key_frame[:, 0], key_frame[:, 1])
    # the lowest beam (-30.67 deg) meets the ground 1.84 m down at 1.84 / tan(30.67 deg)
    ground = key_frame[np.isclose(key_frame[:, 2], -1.84, atol=1e-4)]
    assert len(ground) > 0.3 * len(key_frame)
    assert np.hypot(ground[:, 0], ground[:, 1]).min() == pytest.approx(
        1.84 / np.tan(np.radians(30.67)), rel=1e-6)
    assert distance.max() <= 60.0 and (points[:, 4] == 0.45).sum() == 32 * 1084


def test_tree_pss_counts_a_child_holding_memory():
    own = train_memory.proportional_set_size(os.getpid())
    assert own > 10 * 2**20
    holder = subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(200 * 2**20); '
                               'b[::4096] = b"x" * len(b[::4096]); print(1, flush=True); '
                               'time.sleep(60)'], stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()
        assert holder.pid in train_memory.child_pids()
        sampler = train_memory.TreePssSampler(interval_s=0.01)
        sampler.start()
        time.sleep(0.2)
        assert sampler.stop() > own + 190 * 2**20
    finally:
        holder.kill()
        holder.wait()
