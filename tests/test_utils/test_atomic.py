"""atomic_path: a finished write replaces the file; a failed one leaves the old file alone."""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading

import pytest
import torch

from simdistill.utils import atomic as atomic_module
from simdistill.utils.atomic import atomic_path, remove_stale_temporaries
from simdistill.datasets.nuscenes_infos import STAGING_PREFIX
from simdistill.testing import ROOT


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
            f.write('half')
            raise RuntimeError('killed midway')
    assert path.read_text() == 'old' and os.listdir(tmp_path) == ['out.json']
    with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
        f.write('new')
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['out.json']
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask  # not mkstemp's 0600


# ---------------------------------------------------------------------------------------------
# Each writer killed (SIGKILL) midway: at its first rename, when everything is written to its
# temporary path and nothing is in place yet. The previous result must be intact and no file
# outside the hidden temporaries may be new or changed.
# ---------------------------------------------------------------------------------------------
# Runs ``python SCRIPT ARGS`` with os.replace/os.rename (Path.rename calls os.rename) and, with
# ``exchange=True``, the atomic folder swap (renameat2) announcing themselves and hanging, so
# the test can kill the writer exactly before its first rename.
PAUSE_AT_RENAME = r'''
import os, runpy, sys, time
def pause(*args, **kwargs):
    print('RENAMING', *args[:2], flush=True)
    time.sleep(600)
os.replace = os.rename = pause
if sys.argv[1] == 'exchange':
    from simdistill.utils import atomic
    atomic.exchange_paths = pause
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def kill_at_first_rename(script, *args, timeout=300, exchange=False):
    """Runs a tool until it is about to rename its output into place, then SIGKILLs its whole
    process group. Returns the tool's output up to then."""
    proc = subprocess.Popen([sys.executable, '-c', PAUSE_AT_RENAME,
                             'exchange' if exchange else '-', script, *map(str, args)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    watchdog = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('RENAMING'):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        proc.wait()
    output = ''.join(lines)
    assert lines and lines[-1].startswith('RENAMING'), output[-3000:]
    assert proc.returncode == -signal.SIGKILL
    return output


def snapshot(folder):
    """{relative path: content hash} of every file under ``folder`` outside hidden entries."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        for name in filenames:
            if not name.startswith('.'):
                path = os.path.join(dirpath, name)
                with open(path, 'rb') as f:
                    out[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return out


def test_atomic_path_writer_killed_before_its_rename_keeps_the_old_report(tmp_path):
    # write_json_atomic: the benchmarks' JSON writers (make_report, pretrain and infer_onnx
    # use atomic_path the same way)
    script = tmp_path / 'write_report.py'
    script.write_text(  # atomic.py alone: importing simdistill would take seconds
        'import importlib.util, json, sys\n'
        f'spec = importlib.util.spec_from_file_location("atomic", {atomic_module.__file__!r})\n'
        'atomic = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(atomic)\n'
        'atomic.write_json_atomic(sys.argv[1], {"rows": list(range(200000))})\n')
    report = tmp_path / 'out' / 'report.json'
    report.parent.mkdir()
    report.write_text('{"rows": "previous"}')
    kill_at_first_rename(script, report)
    assert report.read_text() == '{"rows": "previous"}'
    leftovers = [n for n in os.listdir(report.parent) if n != 'report.json']
    assert len(leftovers) == 1 and leftovers[0].startswith('.report.json.')
    assert leftovers[0].endswith('.tmp')  # the finished temporary, hidden
    # The next write replaces the report and removes the dead writer's temporary.
    subprocess.run([sys.executable, str(script), str(report)], check=True)
    assert json.loads(report.read_text())['rows'][-1] == 199999
    assert os.listdir(report.parent) == ['report.json']


def test_stale_temporaries_of_live_processes_and_other_files_are_kept(tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True).stdout.strip()
    names = [f'.out.json.{dead}.abc123_x.tmp',  # a dead writer's: removed
             f'.out.json.{os.getppid()}.abc123_x.tmp',  # a live process's: kept
             f'.out.json.{dead}.other.json.{dead}.abc123_x.tmp',  # of out.json.<pid>.other.json
             'out.json']
    for name in names:
        (tmp_path / name).write_text(name)
    with atomic_path(str(tmp_path / 'out.json')) as tmp, open(tmp, 'w') as f:
        f.write('new')
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])
    assert (tmp_path / 'out.json').read_text() == 'new'


def test_export_student_killed_before_its_rename_keeps_the_old_weights(tmp_path):
    distiller = tmp_path / 'distiller.pth'
    torch.save({'state_dict': {'student.head.weight': torch.arange(6.0).reshape(2, 3),
                               'lidar_adapter.weight': torch.ones(1)}}, str(distiller))
    out = tmp_path / 'exported' / 'student.pth'
    out.parent.mkdir()
    torch.save({'state_dict': {'head.weight': torch.zeros(2, 3)}}, str(out))
    before = snapshot(out.parent)
    output = kill_at_first_rename('tools/model_converters/export_student.py', distiller, out)
    assert f'{out.parent}/.student.pth.' in output  # the rename it was killed at
    assert snapshot(out.parent) == before
    assert torch.equal(torch.load(str(out), weights_only=True)['state_dict']['head.weight'],
                       torch.zeros(2, 3))


def test_create_data_killed_before_its_renames_keeps_the_old_infos(nuscenes_infos, tmp_path):
    # A data root whose inputs are the session's synthetic release and whose info files are
    # copies of its infos (the previous result).
    source = nuscenes_infos['root'].rstrip('/')
    root = tmp_path / 'data' / 'nuscenes'
    root.mkdir(parents=True)
    for name in os.listdir(source):
        path = os.path.join(source, name)
        if name.endswith('_gt_database') or not os.path.isdir(path):
            (shutil.copytree if os.path.isdir(path) else shutil.copy)(path, root / name)
        else:
            os.symlink(path, root / name)
    before = snapshot(root)
    assert 'nuscenes_infos_train.pkl' in before and 'nuscenes_infos_val.pkl' in before
    output = kill_at_first_rename('tools/create_data.py', '--root', root, '--version',
                                  'v1.0-mini', '--max-sweeps', 2, exchange=True)
    # the first output put in place: the GT database, swapped with the previous one
    last = output.splitlines()[-1]
    assert last.startswith('RENAMING') and f'{root}/' in last and '_gt_database' in last, last
    assert snapshot(root) == before
    visible = lambda folder: sorted(n for n in os.listdir(folder) if not n.startswith('.'))  # noqa
    assert visible(root) == visible(source)
    hidden = [n for n in os.listdir(tmp_path / 'data') if n != 'nuscenes']
    assert len(hidden) == 1 and hidden[0].startswith('.nuscenes-infos-')  # the staging folder
    # The next run removes the dead run's staging folder: its links, never what they point to.
    inputs = snapshot(source)
    remove_stale_temporaries(str(tmp_path / 'data'), STAGING_PREFIX)
    assert os.listdir(tmp_path / 'data') == ['nuscenes']
    assert snapshot(source) == inputs and snapshot(root) == before


def test_synthetic_data_writer_killed_before_its_rename_keeps_the_old_release(tmp_path):
    root = tmp_path / 'data' / 'nuscenes'
    args = ('tools/create_synthetic_nuscenes.py', '--out', root, '--samples-per-scene', 1,
            '--image-scale', 0.05, '--sweeps-per-sample', 0, '--no-progress')
    previous = root / 'v1.0-mini'
    previous.mkdir(parents=True)
    (previous / 'sample.json').write_text('["the previous release"]')
    before = snapshot(root)
    output = kill_at_first_rename(*args, '--force', exchange=True)
    assert '.nuscenes.partial-' in output or str(root) in output
    assert snapshot(root) == before
    hidden = [n for n in os.listdir(tmp_path / 'data') if n != 'nuscenes']
    assert len(hidden) == 1 and hidden[0].startswith('.nuscenes.partial-')



# ---------------------------------------------------------------------------------------------
# A folder replacing a folder (replace_path): SIGKILLed before each of its steps in turn, the
# target must hold the old or the new release, never nothing.
# ---------------------------------------------------------------------------------------------
STEPPED_SWAP = r"""
import importlib.util, os, shutil, sys, time
spec = importlib.util.spec_from_file_location('atomic', sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
pause_at, calls = int(sys.argv[4]), [0]

def stepped(name, function):
    def step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == pause_at:
            print('STEP', calls[0], name, flush=True)
            time.sleep(600)
        return function(*args, **kwargs)
    return step

if sys.argv[5] == 'fallback':  # as on a filesystem that cannot exchange names
    atomic.exchange_paths = lambda a, b: False
else:
    atomic.exchange_paths = stepped('exchange', atomic.exchange_paths)
os.rename = stepped('rename', os.rename)
os.replace = stepped('replace', os.replace)
shutil.rmtree = stepped('rmtree', shutil.rmtree)
atomic.replace_path(sys.argv[2], sys.argv[3])
print('DONE', flush=True)
"""


def release(folder, tag):
    """A small release folder whose files say which one it is."""
    (folder / 'v1.0-mini').mkdir(parents=True)
    (folder / 'v1.0-mini' / 'sample.json').write_text(f'["{tag}"]')
    (folder / f'only-in-{tag}').write_text(tag)


def which_release(folder):
    if not folder.exists():
        return None
    tag = json.loads((folder / 'v1.0-mini' / 'sample.json').read_text())[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(['v1.0-mini', f'only-in-{tag}'])
    return tag


def swap_killed_at(tmp_path, step, mode):
    """Runs replace_path(staging, target) in a process SIGKILLed before its ``step``-th file
    system step. Returns (finished, the release at the target, the target's path)."""
    root = tmp_path / f'{mode}-{step}'
    target, staging = root / 'nuscenes', root / '.nuscenes.partial-x'
    release(target, 'old')
    release(staging, 'new')
    proc = subprocess.Popen([sys.executable, '-c', STEPPED_SWAP, atomic_module.__file__,
                             str(staging), str(target), str(step), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    watchdog = threading.Timer(60, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        line = proc.stdout.readline()
        if line.startswith('STEP'):
            os.killpg(proc.pid, signal.SIGKILL)
    finally:
        watchdog.cancel()
        rest = proc.stdout.read()
        proc.wait()
    assert line.startswith(('STEP', 'DONE')), line + rest
    return line.startswith('DONE'), which_release(target), target


def test_swap_killed_at_every_step_leaves_old_or_new(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir(), b.write_text('b')
    assert atomic_module.exchange_paths(str(a), str(b)), 'this filesystem cannot exchange'
    assert a.read_text() == 'b' and b.is_dir()
    seen = []
    for step in range(1, 10):
        finished, found, target = swap_killed_at(tmp_path, step, 'exchange')
        seen.append(found)
        assert found in ('old', 'new'), f'killed before step {step}: the target is missing'
        # the next swap of the same target finds a consistent state and completes
        release(target.parent / '.next', 'next')
        atomic_module.replace_path(str(target.parent / '.next'), str(target))
        assert which_release(target) == 'next'
        if finished:
            break
    assert seen == ['old', 'new', 'new'], seen  # exchange, then removal of the old release


def test_fallback_swap_killed_between_its_renames_is_restored_by_the_next_one(tmp_path):
    """Where names cannot be exchanged: two renames; killed between them the target is
    missing, and the next replace_path (or restore_interrupted_swap) puts the old one back."""
    seen = []
    for step in range(1, 10):
        finished, found, target = swap_killed_at(tmp_path, step, 'fallback')
        seen.append(found)
        if found is None:
            atomic_module.restore_interrupted_swap(str(target))
            assert which_release(target) == 'old'
            assert sorted(os.listdir(target.parent)) == ['.nuscenes.partial-x', 'nuscenes']
        if finished:
            break
    assert seen == ['old', None, 'new', 'new'], seen  # rename away, rename in, remove old


def test_replace_path_replaces_links_and_files_themselves(tmp_path):
    pointed = tmp_path / 'elsewhere'
    release(pointed, 'pointed')
    target = tmp_path / 'nuscenes'
    target.symlink_to(pointed)
    release(tmp_path / '.new', 'new')
    atomic_module.replace_path(str(tmp_path / '.new'), str(target))
    assert not target.is_symlink() and which_release(target) == 'new'
    assert which_release(pointed) == 'pointed'  # what the link pointed to is untouched
    assert sorted(os.listdir(tmp_path)) == ['elsewhere', 'nuscenes']
    (tmp_path / 'file').write_text('old')
    (tmp_path / '.file.new').write_text('new')
    atomic_module.replace_path(str(tmp_path / '.file.new'), str(tmp_path / 'file'))
    assert (tmp_path / 'file').read_text() == 'new' and not (tmp_path / '.file.new').exists()
