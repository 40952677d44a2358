"""Draws one sample of a synthetic nuScenes release: its six camera images and a bird's-eye view
of its LiDAR sweep with the annotated boxes, read back through the nuScenes devkit.

    python docs/draw_synthetic_world.py --root data/nuscenes --out docs/synthetic_world.png
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

CAMERAS = ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK',
           'CAM_BACK_RIGHT')


def draw(root: str, out: str, scene: int, sample: int, bev_range: float) -> None:
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.data_classes import LidarPointCloud
    nusc = NuScenes('v1.0-mini', dataroot=root, verbose=False)
    token = nusc.scene[scene]['first_sample_token']
    for _ in range(sample):
        token = nusc.get('sample', token)['next'] or token
    record = nusc.get('sample', token)
    fig = plt.figure(figsize=(16, 6.2), dpi=90)
    grid = fig.add_gridspec(2, 4, width_ratios=[1, 1, 1, 1.05], wspace=0.03, hspace=0.08)
    for i, channel in enumerate(CAMERAS):
        ax = fig.add_subplot(grid[i // 3, i % 3])
        ax.imshow(Image.open(nusc.get_sample_data_path(record['data'][channel])))
        ax.set_title(channel, fontsize=9)
        ax.axis('off')
    ax = fig.add_subplot(grid[:, 3])
    lidar = record['data']['LIDAR_TOP']
    path, boxes, _ = nusc.get_sample_data(lidar)
    points = LidarPointCloud.from_file(path).points
    # Sensor frame: x right, y forward; plot forward up.
    keep = (np.abs(points[0]) < bev_range) & (np.abs(points[1]) < bev_range)
    ax.scatter(points[0, keep], points[1, keep], s=0.6, c=np.minimum(points[2, keep], 6.0),
               cmap='viridis', linewidths=0)
    for box in boxes:
        corners = box.bottom_corners()[:2]
        ax.plot(*np.c_[corners, corners[:, :1]], color='red', linewidth=0.8)
        front = corners[:, :2].mean(1)
        ax.plot([box.center[0], front[0]], [box.center[1], front[1]], color='red', linewidth=0.8)
    ax.set_xlim(-bev_range, bev_range)
    ax.set_ylim(-bev_range, bev_range)
    ax.set_aspect('equal')
    ax.set_title('LIDAR_TOP (colour: height) and annotated boxes', fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.suptitle(f'{nusc.scene[scene]["name"]}: {nusc.scene[scene]["description"][:110]}',
                 fontsize=10)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default='data/nuscenes')
    parser.add_argument('--out', default='docs/synthetic_world.png')
    parser.add_argument('--scene', type=int, default=0, help='index into the scene table')
    parser.add_argument('--sample', type=int, default=4, help='key frame within the scene')
    parser.add_argument('--bev-range', type=float, default=45.0, help='metres')
    args = parser.parse_args()
    draw(args.root, args.out, args.scene, args.sample, args.bev_range)
    print(f'Wrote {args.out}')


if __name__ == '__main__':
    main()
