"""Writes a synthetic nuScenes v1.0-mini release (tables, LiDAR sweeps, camera images, maps).

    python tools/create_synthetic_nuscenes.py --out data/nuscenes --samples-per-scene 20 \\
        --image-scale 0.25 --seed 0 [--sweeps-per-sample 3] [--city-layout downtown] \\
        [--clutter-density 1.0] [--colour-palette standard] [--force]

The result is read by the nuScenes devkit and mmdet3d's converter like the real v1.0-mini:

    python tools/create_data.py --root data/nuscenes --version v1.0-mini
"""
import argparse
import re
from typing import List, Optional

from simdistill.datasets.synthetic_nuscenes import (SyntheticNuScenesConfig,
                                                    generate_synthetic_nuscenes)

# Config field -> command-line flag, to word errors in the user's terms.
FLAGS = {
    'samples_per_scene': '--samples-per-scene',
    'image_scale': '--image-scale',
    'seed': '--seed',
    'sweeps_per_sample': '--sweeps-per-sample',
    'azimuth_step_deg': '--azimuth-step',
    'city_layout': '--city-layout',
    'clutter_density': '--clutter-density',
    'colour_palette': '--colour-palette',
}


def build_parser() -> argparse.ArgumentParser:
    defaults = SyntheticNuScenesConfig()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/nuscenes', help='dataroot to create')
    parser.add_argument(
        '--samples-per-scene',
        type=int,
        default=defaults.samples_per_scene,
        help='key frames per scene (2 Hz)')
    parser.add_argument(
        '--image-scale',
        type=float,
        default=defaults.image_scale,
        help='camera resolution as a fraction of 1600x900')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument(
        '--sweeps-per-sample',
        type=int,
        default=defaults.sweeps_per_sample,
        help='non-key LiDAR sweeps between two key frames (real nuScenes: 9)')
    parser.add_argument(
        '--azimuth-step',
        type=float,
        default=defaults.azimuth_step_deg,
        help='LiDAR horizontal resolution in degrees')
    parser.add_argument(
        '--city-layout',
        default=defaults.city_layout,
        help='street style: downtown (regular blocks, tall buildings) or suburban (irregular '
        'blocks, low houses behind lawns)')
    parser.add_argument(
        '--clutter-density',
        type=float,
        default=defaults.clutter_density,
        help='multiplies the street furniture and parked clutter (1: default)')
    parser.add_argument(
        '--colour-palette',
        default=defaults.colour_palette,
        help='paints of vehicles and clothes, colours of facades: standard or pastel')
    parser.add_argument(
        '--force', action='store_true', help='replace --out if it exists and is not empty')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = SyntheticNuScenesConfig(**{
            field: getattr(args, flag[2:].replace('-', '_'))
            for field, flag in FLAGS.items()
        })
    except ValueError as error:
        message = str(error)
        for field, flag in FLAGS.items():
            message = re.sub(rf'\b{field}\b', flag, message)
        parser.error(message)
    try:
        summary = generate_synthetic_nuscenes(
            args.out, config, force=args.force, progress=not args.no_progress)
    except FileExistsError as error:
        parser.exit(1, f'error: {error}\n')
    print(summary)


if __name__ == '__main__':
    main()
