"""Writes a synthetic nuScenes release (tables, LiDAR sweeps, camera images, maps).

    python tools/create_synthetic_nuscenes.py --out data/nuscenes --samples-per-scene 20 \\
        --image-scale 0.25 --seed 0 [--sweeps-per-sample 3] [--city-layout mixed] \\
        [--clutter-density 0.6:1.3] [--colour-palette mixed] [--force]

By default every scene draws its own street style from the seed (layout, clutter density in the
range, palette); a style flag given a single value pins every scene to it.

The default release is v1.0-mini (its 10 scenes). ``--version v1.0-trainval`` writes the first
``--train-scenes`` of the devkit's train list and the first ``--val-scenes`` of its val list, the
val scenes drawn from the world ``--val-seed`` (default: --seed + 1), with
``--val-samples-per-scene`` key frames (default: --samples-per-scene).

The result is read by the nuScenes devkit and mmdet3d's converter like the real release:

    python tools/create_data.py --root data/nuscenes --version v1.0-mini   # or v1.0-trainval
"""
import argparse
import re
from typing import List, Optional, Tuple, Union

from synthetic_nuscenes import (VERSIONS, SyntheticNuScenesConfig,
                                                    generate_synthetic_nuscenes)
from synthetic_nuscenes.config import (BENCHMARK_TRAIN_SCENES,
                                                           BENCHMARK_VAL_SCENES)

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
    'version': '--version',
    'train_scenes': '--train-scenes',
    'val_scenes': '--val-scenes',
    'val_seed': '--val-seed',
    'val_samples_per_scene': '--val-samples-per-scene',
}


def clutter_value(text: str) -> Union[float, Tuple[float, float]]:
    """``--clutter-density``: a number (every scene) or ``LOW:HIGH`` (each scene draws)."""
    try:
        parts = tuple(float(part) for part in text.split(':'))
    except ValueError:
        parts = ()
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f'expected a number or LOW:HIGH, got {text!r}')
    return parts[0] if len(parts) == 1 else parts


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
        help='street style: downtown (regular blocks, tall buildings), suburban (irregular '
        'blocks, low houses behind lawns) or mixed (each scene draws one)')
    parser.add_argument(
        '--clutter-density',
        type=clutter_value,
        default=defaults.clutter_density,
        help='multiplies the street furniture and parked clutter (1: nominal); LOW:HIGH lets '
        'each scene draw its own from the range (default: '
        f'{":".join(map(str, defaults.clutter_density))})')
    parser.add_argument(
        '--colour-palette',
        default=defaults.colour_palette,
        help='paints of vehicles and clothes, colours of facades: standard, pastel or mixed '
        '(each scene draws one)')
    parser.add_argument(
        '--version',
        default=defaults.version,
        help=f'release to write: {" or ".join(VERSIONS)} (default: {defaults.version})')
    parser.add_argument(
        '--train-scenes',
        type=int,
        help='v1.0-trainval: scenes of the devkit\'s train list to write (default: '
        f'{BENCHMARK_TRAIN_SCENES}, at most 700)')
    parser.add_argument(
        '--val-scenes',
        type=int,
        help='v1.0-trainval: scenes of its val list to write (default: '
        f'{BENCHMARK_VAL_SCENES}, at most 150)')
    parser.add_argument(
        '--val-seed',
        type=int,
        help='v1.0-trainval: world seed of the val scenes (default: --seed + 1; must differ '
        'from --seed)')
    parser.add_argument(
        '--val-samples-per-scene',
        type=int,
        help='v1.0-trainval: key frames per val scene (default: --samples-per-scene)')
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
