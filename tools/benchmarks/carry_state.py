"""Carries a resumable benchmark's state (``distill_gain.py --out``) from one machine to the next.

The benchmark's runs add up to more than one working session, and a session's machine keeps
nothing but the repository. ``save`` copies what the next session needs to continue into a
folder that can be committed; ``restore`` puts it back under ``--out`` so that re-running the
same ``distill_gain.py`` command continues where the last session stopped:

    python tools/benchmarks/carry_state.py save    --out work_dirs/bench-v4 --to STATE_DIR
    python tools/benchmarks/carry_state.py restore --out work_dirs/bench-v4 --from STATE_DIR

Per run folder (``<out>/runs/<name>_seed<k>``):
- a finished run (its ``metrics.json`` exists): ``metrics.json``, its predictions file gzipped
  (the bootstrap intervals re-score it) and, for the runs later runs start from (the teacher's
  two stages), the final checkpoint's weights (``state_dict`` and ``meta`` only: the distiller
  fingerprints the teacher by its weights, which these are);
- an unfinished run: the checkpoint its ``last_checkpoint`` names, whole (weights, optimizer,
  schedulers, message hub: what ``--resume`` continues from exactly), and its gradient
  diagnostics so far (``gradient_diagnostics.jsonl``; a finished run has them in its record).
And ``<out>/pretrain/image_backbone.pth`` (the camera branches' pre-training), when there, and
the bootstrap's stored scores of every evaluation (``<out>/bootstrap_replicates/*.npz``, a few
tens of KiB each), so that the next session does not score them again.

Paths inside ``metrics.json`` and ``last_checkpoint`` are stored relative to ``--out`` and made
absolute again on restore, so the state moves between folders. Every file is written to a
temporary path and renamed.
"""
import argparse
import glob
import gzip
import json
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
from simdistill.checkpoint.loading import load_checkpoint_file  # noqa: E402
from simdistill.engine.gradient_diagnostics import LOG_NAME as GRADIENT_LOG  # noqa: E402
from simdistill.utils.atomic import (atomic_path, write_json_atomic,  # noqa: E402
                                     write_text_atomic)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from distill_gain import REPLICATES, TRAINING_LOGS  # noqa: E402

STARTING_POINTS = ('teacher_lidar', 'teacher')  # runs whose weights later runs load
PATH_KEYS = ('checkpoint', 'results')
PRETRAIN = osp.join('pretrain', 'image_backbone.pth')
# an unfinished run's records that its resume appends to (the gradient diagnostics) or counts
# (its earlier sessions' training time), as glob patterns relative to the run's folder
RUN_LOGS = (GRADIENT_LOG, TRAINING_LOGS)


def run_logs(run: str) -> List[str]:
    """The :data:`RUN_LOGS` files of the run folder ``run``, relative to it."""
    return sorted(osp.relpath(path, run) for pattern in RUN_LOGS
                  for path in glob.glob(osp.join(run, pattern)))


def copy_file(src: str, dst: str, compress: bool = False, decompress: bool = False) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    opener = gzip.open if decompress else open
    with opener(src, 'rb') as fin, atomic_path(dst) as tmp:
        with (gzip.open(tmp, 'wb', compresslevel=9) if compress else open(tmp, 'wb')) as fout:
            shutil.copyfileobj(fin, fout)


def save_weights(checkpoint: str, dst: str) -> None:
    """The checkpoint's ``state_dict`` and ``meta`` only."""
    import torch
    state = load_checkpoint_file(checkpoint, map_location='cpu')
    os.makedirs(osp.dirname(dst), exist_ok=True)
    with atomic_path(dst) as tmp:
        torch.save({'state_dict': state['state_dict'], 'meta': state.get('meta', {})}, tmp)


def relative(path: str, out: str) -> str:
    if not osp.isabs(path) or osp.commonpath([path, out]) != out:
        raise ValueError(f'{path} is not under --out {out}: cannot carry it')
    return osp.relpath(path, out)


def save(out: str, to: str, keep_epochs: Sequence[int] = ()) -> List[str]:
    """Copies the state of ``out`` into ``to``; returns the files written (relative to it).

    ``keep_epochs``: the learning curve's epochs (``distill_gain.py --curve-epochs``), whose
    checkpoints an unfinished run still has to evaluate: carried as weights."""
    out, written = osp.abspath(out), []
    runs = osp.join(out, 'runs')
    for name in sorted(os.listdir(runs)) if osp.isdir(runs) else []:
        run, dst = osp.join(runs, name), osp.join(to, 'runs', name)
        metrics = osp.join(run, 'metrics.json')
        if osp.isfile(metrics):
            with open(metrics) as f:
                record = json.load(f)
            for key in PATH_KEYS:
                record[key] = relative(record[key], out)
            write_json_atomic(osp.join(dst, 'metrics.json'), record)
            written.append(osp.join('runs', name, 'metrics.json'))
            copy_file(osp.join(out, record['results']), osp.join(to, record['results'] + '.gz'),
                      compress=True)
            written.append(record['results'] + '.gz')
            if record['name'] in STARTING_POINTS:
                save_weights(osp.join(out, record['checkpoint']), osp.join(to, record['checkpoint']))
                written.append(record['checkpoint'])
        elif osp.isfile(osp.join(run, 'last_checkpoint')):
            with open(osp.join(run, 'last_checkpoint')) as f:
                last = relative(f.read().strip(), out)
            copy_file(osp.join(out, last), osp.join(to, last))
            write_text_atomic(osp.join(dst, 'last_checkpoint'), last)
            written += [last, osp.join('runs', name, 'last_checkpoint')]
            for epoch in keep_epochs:
                curve = relative(osp.join(run, f'epoch_{epoch}.pth'), out)
                if curve != last and osp.isfile(osp.join(out, curve)):
                    save_weights(osp.join(out, curve), osp.join(to, curve))
                    written.append(curve)
            for log in run_logs(run):
                copy_file(osp.join(run, log), osp.join(dst, log))
                written.append(osp.join('runs', name, log))
    if osp.isfile(osp.join(out, PRETRAIN)):
        copy_file(osp.join(out, PRETRAIN), osp.join(to, PRETRAIN))
        written.append(PRETRAIN)
    for path in stored_replicates(out):
        copy_file(osp.join(out, path), osp.join(to, path))
        written.append(path)
    return written


def stored_replicates(folder: str) -> List[str]:
    """The bootstrap's stored scores under ``folder`` (paths relative to it)."""
    store = osp.join(folder, REPLICATES)
    return sorted(osp.join(REPLICATES, f) for f in os.listdir(store)
                  if f.endswith('.npz')) if osp.isdir(store) else []


def restore(out: str, source: str) -> List[str]:
    """Puts the state saved in ``source`` under ``out`` (absolute paths again); a run that
    already has a ``metrics.json`` or a newer checkpoint under ``out`` is left as it is."""
    out, written = osp.abspath(out), []
    runs = osp.join(source, 'runs')
    for name in sorted(os.listdir(runs)) if osp.isdir(runs) else []:
        src, run = osp.join(runs, name), osp.join(out, 'runs', name)
        if osp.isfile(osp.join(run, 'metrics.json')):
            continue
        if osp.isfile(osp.join(src, 'metrics.json')):
            with open(osp.join(src, 'metrics.json')) as f:
                record = json.load(f)
            copy_file(osp.join(source, record['results'] + '.gz'),
                      osp.join(out, record['results']), decompress=True)
            if osp.isfile(osp.join(source, record['checkpoint'])):
                copy_file(osp.join(source, record['checkpoint']),
                          osp.join(out, record['checkpoint']))
            for key in PATH_KEYS:
                record[key] = osp.join(out, record[key])
            write_json_atomic(osp.join(run, 'metrics.json'), record)
            written.append(osp.join(run, 'metrics.json'))
        elif osp.isfile(osp.join(src, 'last_checkpoint')):
            if osp.isfile(osp.join(run, 'last_checkpoint')):
                continue  # this machine went on training it
            with open(osp.join(src, 'last_checkpoint')) as f:
                last = f.read().strip()
            copy_file(osp.join(source, last), osp.join(out, last))
            write_text_atomic(osp.join(run, 'last_checkpoint'), osp.join(out, last))
            written.append(osp.join(out, last))
            for curve in glob.glob(osp.join(src, 'epoch_*.pth')):  # save's keep_epochs
                if osp.basename(curve) != osp.basename(last):
                    copy_file(curve, osp.join(run, osp.basename(curve)))
                    written.append(osp.join(run, osp.basename(curve)))
            for log in run_logs(src):
                copy_file(osp.join(src, log), osp.join(run, log))
                written.append(osp.join(run, log))
    if osp.isfile(osp.join(source, PRETRAIN)) and not osp.isfile(osp.join(out, PRETRAIN)):
        copy_file(osp.join(source, PRETRAIN), osp.join(out, PRETRAIN))
        written.append(osp.join(out, PRETRAIN))
    for path in stored_replicates(source):
        if not osp.isfile(osp.join(out, path)):
            copy_file(osp.join(source, path), osp.join(out, path))
            written.append(osp.join(out, path))
    return written


def sizes(folder: str) -> Dict[str, int]:
    return {osp.relpath(osp.join(d, f), folder): osp.getsize(osp.join(d, f))
            for d, _, files in os.walk(folder) for f in files}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=('save', 'restore'))
    parser.add_argument('--out', required=True, help="the benchmark's --out folder")
    parser.add_argument('--to', help='save: the state folder to write')
    parser.add_argument('--from', dest='source', help='restore: the state folder to read')
    parser.add_argument('--keep-epochs', type=int, nargs='*', default=[],
                        help="save: the benchmark's --curve-epochs (an unfinished run's earlier "
                        'checkpoints its learning curve evaluates, carried as weights)')
    args = parser.parse_args(argv)
    if args.action == 'save':
        if not args.to:
            parser.error('save needs --to')
        files = save(args.out, args.to, args.keep_epochs)
        table = sizes(args.to)
        for path in files:
            print(f'{table.get(path, 0) / 2**20:8.1f} MiB  {path}')
    else:
        if not args.source or not osp.isdir(args.source):
            parser.error(f'restore needs --from, an existing folder (got {args.source})')
        for path in restore(args.out, args.source):
            print(f'restored {path}')


if __name__ == '__main__':
    main()
