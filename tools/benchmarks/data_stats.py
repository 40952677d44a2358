"""How much a nuScenes release can measure: scenes, samples and physical objects per detection
class in each of its devkit splits (real or synthetic data alike).

    python tools/benchmarks/data_stats.py data/nuscenes --version v1.0-trainval \\
        [--results work_dirs/data_stats.json]

A physical object is an instance with at least one annotation holding a LiDAR point
(``num_lidar_pts > 0``), counted once (:mod:`simdistill.datasets.nuscenes_stats`). Prints a
Markdown table and writes the counts as JSON (atomically).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'projects', 'SimDistill'))
from simdistill.datasets.nuscenes_stats import (VERSION_SPLITS, format_table,  # noqa: E402
                                                read_release_stats, stats_record)
from simdistill.utils.atomic import write_json_atomic  # noqa: E402


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dataroot', help='a nuScenes dataroot (holding <version>/*.json)')
    parser.add_argument('--version', default='v1.0-mini',
                        help=f'release folder: {", ".join(VERSION_SPLITS)} (default: v1.0-mini)')
    parser.add_argument('--results', default='work_dirs/data_stats.json',
                        help='JSON file to write')
    args = parser.parse_args(argv)
    if args.version not in VERSION_SPLITS:
        parser.error(f'--version must be one of {", ".join(VERSION_SPLITS)}, got '
                     f'{args.version!r}')
    try:
        stats = read_release_stats(args.dataroot, args.version)
    except FileNotFoundError as error:
        parser.exit(1, f'error: {error}\n')
    write_json_atomic(args.results, dict(dataroot=osp.abspath(args.dataroot),
                                         version=args.version, splits=stats_record(stats)))
    print(format_table(stats))
    print(f'Wrote {args.results}')


if __name__ == '__main__':
    main()
