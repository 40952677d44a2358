"""Makes mmdet3d info files for a nuScenes-format dataset (real or synthetic).

    python tools/create_data.py --root data/nuscenes --version v1.0-mini

Runs mmdet3d's own converter (``mmdet3d/.mim/tools/create_data.py``) the way it works: from the
folder holding ``data/nuscenes``. See :mod:`simdistill.datasets.nuscenes_infos`.
"""
import argparse

from simdistill.datasets.nuscenes_infos import create_nuscenes_infos


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--root', default='data/nuscenes', help='a folder .../data/nuscenes')
    parser.add_argument('--version', default='v1.0-mini', help='nuScenes release folder')
    parser.add_argument('--max-sweeps', type=int, default=10, help='LiDAR sweeps per key frame')
    return parser.parse_args()


def main():
    args = parse_args()
    infos = create_nuscenes_infos(args.root, args.version, args.max_sweeps)
    for split, path in infos.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
