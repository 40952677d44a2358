"""Collects the nuScenes metrics of finished test runs into one Markdown table.

    python tools/summarize_results.py WORK_DIR [WORK_DIR ...] [--out results.md]

Each WORK_DIR is a training work dir whose ``test/`` is the ``--work-dir`` of a
``tools/test.py`` run (as ``tools/run_pipeline.sh`` does it).
"""
import argparse
import os.path as osp

from simdistill.utils.atomic import atomic_path
from simdistill.utils.metric_logs import read_nuscenes_metrics

KEYS = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args()
    lines = ['| model | ' + ' | '.join(KEYS) + ' |', '|---' * (len(KEYS) + 1) + '|']
    for work_dir in args.work_dirs:
        metrics = read_nuscenes_metrics(osp.join(work_dir, 'test'))
        values = ' | '.join(f'{metrics[k]:.4f}' for k in KEYS)
        lines.append(f'| {osp.basename(osp.normpath(work_dir))} | {values} |')
    table = '\n'.join(lines) + '\n'
    print(table)
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, 'w') as f:
            f.write(table)


if __name__ == '__main__':
    main()
