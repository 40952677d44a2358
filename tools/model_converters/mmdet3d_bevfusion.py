"""Converts BEVFusion weights for this project's BEVFusion configs.

    python tools/model_converters/mmdet3d_bevfusion.py \
        bevfusion_lidar-cam_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d-5239b1af.pth \
        checkpoints/bevfusion_lidar-cam_teacher.pth

Reads mmdet3d 1.x ``projects/BEVFusion`` checkpoints (the model zoo's) and the original
mit-han-lab/bevfusion release format (mmdet3d 0.x names ``encoders.*``, ``fuser``,
``decoder.*``, ``heads.object``; spconv 1.x kernels), told apart by their key names. The input
is read with ``weights_only=True`` and must be a plain state dict of tensors (or a checkpoint
whose ``state_dict`` is one); the output is a state dict written atomically, which
``load_from=`` and the distiller's ``teacher_ckpt`` accept. Key maps and tensor conversions:
:mod:`simdistill.model_conversion`.
"""
import argparse

import torch

from simdistill.checkpoint.loading import load_checkpoint_file
from simdistill.model_conversion import (convert_mit_han_lab_bevfusion,
                                         convert_mmdet3d_bevfusion, is_mit_han_lab_bevfusion)
from simdistill.utils.atomic import atomic_path
from simdistill.checkpoint.state_dicts import plain_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='BEVFusion checkpoint (.pth)')
    parser.add_argument('out', help='where to write the converted state dict (.pth)')
    args = parser.parse_args()
    state = plain_state_dict(load_checkpoint_file(args.checkpoint, map_location='cpu'),
                             args.checkpoint)
    release = is_mit_han_lab_bevfusion(state)
    convert = convert_mit_han_lab_bevfusion if release else convert_mmdet3d_bevfusion
    converted = convert(state)
    with atomic_path(args.out) as tmp:
        torch.save(converted, tmp)
    source = 'mit-han-lab release' if release else 'mmdet3d projects/BEVFusion'
    print(f'{args.checkpoint} ({source}, {len(state)} tensors) -> {args.out} '
          f'({len(converted)} tensors; {len(state) - len(converted)} buffers that the config '
          'rebuilds dropped)')


if __name__ == '__main__':
    main()
