"""Draws docs/simdistill.png, the README's picture of teacher, student and distiller.

    python docs/draw_architecture.py
"""
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

TEACHER, STUDENT, LOSS = '#dbe9f6', '#fde9d4', '#e6f4e1'


def box(ax, x, y, text, color, w=1.7, h=0.55):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0.04',
                                fc=color, ec='0.3', lw=1))
    ax.text(x, y, text, ha='center', va='center', fontsize=8.5)


def arrow(ax, a, b, style='-|>', color='0.25', ls='-'):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, color=color, lw=1,
                                 ls=ls, shrinkA=2, shrinkB=2))


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 6.2))
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 6.4)
    ax.axis('off')
    # teacher (top): frozen BEVFusion
    ax.text(0.2, 6.1, 'Teacher: BEVFusion (LiDAR + camera), frozen: eval(), no_grad, outside '
            'the optimizer, DDP and checkpoints', fontsize=9.5, weight='bold')
    box(ax, 1.2, 5.4, 'points', TEACHER, w=1.1)
    box(ax, 3.2, 5.4, 'voxelize +\nsparse encoder', TEACHER)
    box(ax, 5.4, 5.4, 'LiDAR BEV', TEACHER, w=1.4)
    box(ax, 1.2, 4.5, 'six images', TEACHER, w=1.1)
    box(ax, 3.2, 4.5, 'backbone + neck\n+ LSS (BEV pool)', TEACHER)
    box(ax, 5.4, 4.5, 'camera BEV', TEACHER, w=1.4)
    box(ax, 7.3, 4.95, 'ConvFuser', TEACHER, w=1.3)
    box(ax, 9.3, 4.95, 'SECOND +\nSECONDFPN', TEACHER, w=1.5)
    box(ax, 11.5, 4.95, 'head\n(CenterHead /\nTransFusion)', TEACHER, w=1.6, h=0.75)
    for a, b in (((1.75, 5.4), (2.35, 5.4)), ((4.05, 5.4), (4.7, 5.4)), ((1.75, 4.5), (2.35, 4.5)),
                 ((4.05, 4.5), (4.7, 4.5)), ((6.1, 5.4), (6.65, 5.05)),
                 ((6.1, 4.5), (6.65, 4.85)), ((7.95, 4.95), (8.55, 4.95)),
                 ((10.05, 4.95), (10.7, 4.95))):
        arrow(ax, a, b)
    # student (bottom): images only
    ax.text(0.2, 0.2, 'Student (deployable, images only): two LSS branches from one image '
            'backbone; the simulated-LiDAR branch passes the geometry compensation module',
            fontsize=9.5, weight='bold')
    box(ax, 1.2, 1.6, 'six images', STUDENT, w=1.1)
    box(ax, 3.2, 1.6, 'backbone +\nneck (once)', STUDENT)
    box(ax, 5.4, 2.4, 'LSS ->\ncamera BEV', STUDENT, w=1.4)
    box(ax, 5.4, 0.95, 'LSS (own) ->\nsim. LiDAR BEV', STUDENT, w=1.4)
    box(ax, 7.3, 0.95, 'GCM: x + deform.\nattention(x)', STUDENT, w=1.6)
    box(ax, 7.3, 1.85, 'ConvFuser\n(sim. fusion)', STUDENT, w=1.3)
    box(ax, 9.3, 1.85, 'SECOND +\nSECONDFPN', STUDENT, w=1.5)
    box(ax, 11.5, 1.85, 'CenterHead', STUDENT, w=1.6)
    for a, b in (((1.75, 1.6), (2.35, 1.6)), ((4.05, 1.75), (4.7, 2.3)),
                 ((4.05, 1.45), (4.7, 1.05)), ((6.1, 0.95), (6.5, 0.95)),
                 ((7.3, 1.22), (7.3, 1.57)), ((6.1, 2.3), (6.65, 1.95)),
                 ((7.95, 1.85), (8.55, 1.85)), ((10.05, 1.85), (10.7, 1.85))):
        arrow(ax, a, b)
    # distillation terms (middle)
    terms = [(4.3, 3.45, 'camera BEV\nMSE x1', (5.2, 4.2), (5.2, 2.7)),
             (6.4, 3.45, 'LiDAR BEV, GT-heatmap\nmasked MSE x100\n(adapter 80->256)',
              (5.9, 5.15), (7.95, 1.2)),
             (8.7, 3.45, 'fused BEV\nMSE x1', (7.6, 4.7), (7.6, 2.15)),
             (11.5, 3.45, 'heatmaps QFL x0.25\nboxes Smooth-L1 x0.25\n(at GT centres)',
              (11.5, 4.55), (11.5, 2.1))]
    for x, y, text, top, bottom in terms:
        box(ax, x, y, text, LOSS, w=1.55 if x != 6.4 else 1.85, h=0.7)
        arrow(ax, top, (x, y + 0.37), style='-', color='tab:green', ls='--')
        arrow(ax, bottom, (x, y - 0.37), style='-', color='tab:green', ls='--')
    ax.text(0.2, 3.45, 'Distiller: adds to the\nstudent\'s detection loss\n(teacher targets detached,\n'
            'each term a config key)', fontsize=8.5, color='tab:green', va='center')
    out = osp.join(osp.dirname(osp.abspath(__file__)), 'simdistill.png')
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
