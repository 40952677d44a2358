"""Collects the nuScenes metrics of finished test runs into one Markdown table.

    python tools/summarize_results.py WORK_DIR [WORK_DIR ...] [--out results.md]

Each WORK_DIR is a training work dir whose ``test/`` holds the log of ``tools/test.py``
(mmengine writes its metrics as the last JSON line of ``test/<timestamp>/<timestamp>.json``).
"""
import argparse
import glob
import json
import os
import os.path as osp

KEYS = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')


def read_metrics(work_dir: str) -> dict:
    """The metrics of the newest test run in ``work_dir/test``."""
    logs = sorted(glob.glob(osp.join(work_dir, 'test', '*', '*.json')))
    if not logs:
        raise FileNotFoundError(f'no test log under {work_dir}/test: run tools/test.py with '
                                f'--work-dir {work_dir}/test first')
    with open(logs[-1]) as f:
        last = json.loads(f.read().strip().splitlines()[-1])
    metrics = {key.split('/')[-1]: value for key, value in last.items()}
    missing = [k for k in KEYS if k not in metrics]
    if missing:
        raise KeyError(f'{logs[-1]} has no {missing}: not a NuScenesMetric test log')
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args()
    lines = ['| model | ' + ' | '.join(KEYS) + ' |', '|---' * (len(KEYS) + 1) + '|']
    for work_dir in args.work_dirs:
        metrics = read_metrics(work_dir)
        values = ' | '.join(f'{metrics[k]:.4f}' for k in KEYS)
        lines.append(f'| {osp.basename(osp.normpath(work_dir))} | {values} |')
    table = '\n'.join(lines) + '\n'
    print(table)
    if args.out:
        tmp = args.out + '.tmp'
        with open(tmp, 'w') as f:
            f.write(table)
        os.replace(tmp, args.out)


if __name__ == '__main__':
    main()
