"""The BEV pool's kernel loading fails loudly when asked to and never hangs on a dead build:
``SIMDISTILL_REQUIRE_COMPILED_OPS=1`` turns the pure-PyTorch fallback into an error naming why
the kernels are missing; a build SIGKILLed while holding torch's ``lock`` file is waited for
while alive and its lock cleared once dead."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from simdistill.ops.bev_pool import bev_pool, build_plan, extension, get_backend
from simdistill.structures import BEVGrid

PACKAGE_DIR = os.path.dirname(os.path.dirname(extension.__file__))  # .../simdistill/ops
# The loader needs only torch: the helper processes import it below empty stand-ins of the
# packages above it, so no package __init__ (and no mmdet3d) runs.
LOAD_MODULE = ('import sys, types\n'
               f'ops_dir = {PACKAGE_DIR!r}\n'
               'for name, path in (("simdistill", ops_dir + "/.."), ("simdistill.ops", ops_dir),\n'
               '                   ("simdistill.ops.bev_pool", ops_dir + "/bev_pool")):\n'
               '    sys.modules[name] = types.ModuleType(name)\n'
               '    sys.modules[name].__path__ = [path]\n'
               'from simdistill.ops.bev_pool import extension as ext\n'
               'assert "mmdet3d" not in sys.modules\n')
HOLD_LOCK = LOAD_MODULE + '''
import time
from pathlib import Path
from torch.utils.file_baton import FileBaton
directory = Path(sys.argv[1])
with ext.build_lock(directory):
    assert FileBaton(str(directory / 'lock')).try_acquire()  # as cpp_extension.load's build does
    print('building', flush=True)
    time.sleep(600)
'''
LOAD = LOAD_MODULE + '''
print('loading', flush=True)
ops = ext.load_extension(cuda=False)
assert callable(ops.fused_forward)
print('loaded', flush=True)
'''


@pytest.fixture
def failed_build(monkeypatch):
    """Fresh loader state whose builds raise, as a compiler failure does."""

    def broken(cuda, verbose):
        raise RuntimeError('simulated compiler failure')

    monkeypatch.setattr(extension.EXTENSION, '_loaded', {})
    monkeypatch.setattr(extension.EXTENSION, '_failures', {})
    monkeypatch.setattr(extension.EXTENSION, '_warned', False)
    monkeypatch.setattr(extension.EXTENSION, '_compile', broken)


def small_problem():
    grid = BEVGrid((-2.0, 2.0, 1.0), (-2.0, 2.0, 1.0), (-1.0, 1.0, 2.0))
    gen = torch.Generator().manual_seed(0)
    geom = torch.rand(1, 2, 3, 2, 2, 3, generator=gen) * 4 - 2
    depth = torch.rand(1, 2, 3, 2, 2, generator=gen)
    context = torch.rand(1, 2, 5, 2, 2, generator=gen)
    return depth, context, build_plan(geom, grid)


def test_required_compiled_ops_raise_naming_why_at_every_call(failed_build, monkeypatch):
    monkeypatch.setenv(extension.REQUIRE_ENV, '1')
    depth, context, plan = small_problem()
    for _ in range(2):  # the remembered failure raises again, it does not fall back later
        with pytest.raises(extension.CompiledOpsUnavailableError,
                           match=r'cpu: RuntimeError: simulated compiler failure.*'
                           r'SIMDISTILL_REQUIRE_COMPILED_OPS'):
            bev_pool(depth, context, plan, impl='fused')
    with pytest.raises(extension.CompiledOpsUnavailableError, match='meta'):
        get_backend(torch.device('meta'))
    # the explicit PyTorch implementation is a choice, not a fallback
    assert bev_pool(depth, context, plan, impl='torch').shape == (1, 5, 1, 4, 4)


@pytest.mark.parametrize('value', ['0', ''])
def test_unset_requirement_falls_back_with_one_warning(failed_build, monkeypatch, value):
    monkeypatch.setenv(extension.REQUIRE_ENV, value)
    depth, context, plan = small_problem()
    with pytest.warns(RuntimeWarning, match='SIMDISTILL_REQUIRE_COMPILED_OPS=1 to make this'):
        fallback = bev_pool(depth, context, plan, impl='fused')
    torch.testing.assert_close(fallback, bev_pool(depth, context, plan, impl='torch'))


def read_line(proc, timeout_s=120.0) -> str:
    """The next stdout line of ``proc`` (fails instead of hanging)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return line.strip()
        assert proc.poll() is None, proc.stderr.read()
    raise AssertionError('no output in time')


def test_a_killed_builds_lock_is_waited_for_while_alive_and_cleared_once_dead(tmp_path):
    built = extension.build(cuda=False, verbose=False)  # the CPU variant, as the tests use it
    cache = tmp_path / 'cache'
    directory = cache / built.name
    shutil.copytree(built, directory)  # a built folder: the loader below need not compile
    assert not (directory / 'lock').exists()
    env = dict(os.environ, SIMDISTILL_OPS_CACHE=str(cache), SIMDISTILL_REQUIRE_COMPILED_OPS='1')
    spawn = lambda code, *args: subprocess.Popen(  # noqa: E731
        [sys.executable, '-c', code, *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    builder = spawn(HOLD_LOCK, str(directory))
    loader = None
    try:
        assert read_line(builder) == 'building'
        assert (directory / 'lock').is_file()
        loader = spawn(LOAD)
        assert read_line(loader) == 'loading'
        time.sleep(2.0)
        # a live build is waited for: its lock is neither taken nor removed
        assert loader.poll() is None and (directory / 'lock').is_file()
        os.kill(builder.pid, signal.SIGKILL)
        assert builder.wait(timeout=60) == -signal.SIGKILL
        # the dead build's lock would make torch wait forever; the loader clears it and loads
        out, err = loader.communicate(timeout=180)
        assert loader.returncode == 0, err[-3000:]
        assert out.strip() == 'loaded'
        assert f'removed {directory / "lock"}, the build lock of an interrupted build' in err
        assert not (directory / 'lock').exists()
    finally:
        for proc in (builder, loader):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
