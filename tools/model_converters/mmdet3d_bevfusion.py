"""Converts mmdet3d 1.x ``projects/BEVFusion`` weights for this project's BEVFusion configs.

    python tools/model_converters/mmdet3d_bevfusion.py \
        bevfusion_lidar-cam_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d-5239b1af.pth \
        checkpoints/bevfusion_lidar-cam_teacher.pth

The input is read with ``weights_only=True`` and must be a plain state dict of tensors (or a
checkpoint whose ``state_dict`` is one); the output is a state dict written atomically, which
``load_from=`` and the distiller's ``teacher_ckpt`` accept. The key map and the tensor
conversions are documented in :mod:`simdistill.model_conversion.mmdet3d_bevfusion`.
"""
import argparse

import torch

from simdistill.compat import load_checkpoint_file
from simdistill.model_conversion import convert_mmdet3d_bevfusion
from simdistill.utils.atomic import atomic_path
from simdistill.utils.state_dicts import plain_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='upstream BEVFusion checkpoint (.pth)')
    parser.add_argument('out', help='where to write the converted state dict (.pth)')
    args = parser.parse_args()
    state = plain_state_dict(load_checkpoint_file(args.checkpoint, map_location='cpu'),
                             args.checkpoint)
    converted = convert_mmdet3d_bevfusion(state)
    with atomic_path(args.out) as tmp:
        torch.save(converted, tmp)
    print(f'wrote {len(converted)} tensors to {args.out} ({len(state) - len(converted)} '
          'upstream buffers dropped)')


if __name__ == '__main__':
    main()
