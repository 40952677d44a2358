"""Exports the deployable student from a SimDistill (distiller) checkpoint.

    python tools/model_converters/export_student.py work_dirs/<distiller>/epoch_12.pth \
        student.pth
    python tools/test.py configs/simdistill/simdistill-student_<...>.py student.pth

The output holds the student's weights only (no distillation adapter, no teacher), written
atomically; it loads with ``weights_only`` into the student config alone.
"""
import argparse

from simdistill.models.distillers.student_export import export_student_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='a SimDistill checkpoint (runner or state dict)')
    parser.add_argument('out', help='where to write the student weights (.pth)')
    args = parser.parse_args()
    state = export_student_weights(args.checkpoint, args.out)
    print(f'wrote {len(state)} student tensors to {args.out}')


if __name__ == '__main__':
    main()
