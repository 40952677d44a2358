"""Pre-trains a camera model's image backbone + neck on the training images (2D perception).

    python tools/pretrain_image_backbone.py CAMERA_CONFIG --out checkpoints/backbone.pth

Real users start BEVFusion's camera branch from a backbone pre-trained on 2D data (nuImages
for Swin-T in BEVFusion; depth-pretrained backbones such as DD3D's in other camera detectors).
The synthetic data has no such corpus, so this script makes the equivalent from the *training*
split only: every image feature cell (stride of ``img_neck_out_index``) that a LiDAR point of
the same sample projects into gets two labels, the depth bin of its nearest point (the LSS's
``dbound``) and the class of the ground-truth box holding that point (or background). A 1x1
conv on the neck's map predicts both (cross-entropy each). Points and boxes are used only here,
never by the camera model that starts from the result.

The output holds ``img_backbone.*`` and ``img_neck.*`` (a plain state dict, written atomically);
camera configs load it with ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``. It
also holds ``view_transform.depthnet.*``, the depth head in the shape of a camera-only LSS's depth
net (see :func:`lss_depthnet_init`), for a camera model that starts its depth from it.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import simdistill  # noqa: F401
from mmdet3d.registry import DATASETS, MODELS
from simdistill.models.image_pretrain import PretrainHead, cell_targets, point_classes
from simdistill.models.view_transforms import stack_camera_matrices
from simdistill.utils.atomic import atomic_path


def lss_depthnet_init(head: PretrainHead, context_channels: int) -> dict:
    """``view_transform.depthnet.{weight,bias}`` of a camera-only LSS (one 1x1 conv: depth
    bins, then context channels) whose depth rows are the trained head's: a camera model can
    start its depth distribution from the pre-training (``init_cfg=dict(type='Pretrained',
    checkpoint=..., prefix='view_transform.')`` on its view transform) instead of throwing it
    away; the context rows keep PyTorch's default conv init."""
    context = torch.nn.Conv2d(head.conv.in_channels, context_channels, 1)
    depth_w, depth_b = head.conv.weight[:head.num_bins], head.conv.bias[:head.num_bins]
    return {'view_transform.depthnet.weight': torch.cat((depth_w, context.weight)).detach(),
            'view_transform.depthnet.bias': torch.cat((depth_b, context.bias)).detach()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a camera model config (its backbone, neck, LSS)')
    parser.add_argument('--data-config', default='configs/bevfusion/bevfusion_lidar-cam_'
                        'pillar-r18_1xb2-cpu-12e_nus-mini-3d.py',
                        help='config whose train pipeline loads points, images and boxes')
    parser.add_argument('--out', required=True)
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides of the data config (e.g. data_root)')
    args = parser.parse_args()
    init_default_scope('mmdet3d')
    torch.manual_seed(args.seed)
    cfg, data_cfg = Config.fromfile(args.config), Config.fromfile(args.data_config)
    data_cfg.merge_from_dict(dict(o.split('=', 1) for o in args.cfg_options))
    m = cfg.model
    # from scratch: the configs' init_cfg point at the file this script writes
    m.img_backbone.init_cfg = m.img_neck.init_cfg = None
    backbone, neck = MODELS.build(m.img_backbone), MODELS.build(m.img_neck)
    backbone.init_weights(), neck.init_weights()
    preprocessor = MODELS.build(dict(m.data_preprocessor, voxel=False))
    vt = m.view_transform
    num_bins = round((vt.dbound[1] - vt.dbound[0]) / vt.dbound[2])
    num_classes = len(data_cfg.class_names)
    head = PretrainHead(neck.out_channels if hasattr(neck, 'out_channels') else
                        vt.in_channels, num_bins, num_classes)
    dataset = DATASETS.build(data_cfg.train_dataloader.dataset)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch_size, shuffle=True, num_workers=2,
        collate_fn=pseudo_collate, drop_last=True)
    params = [*backbone.parameters(), *neck.parameters(), *head.parameters()]
    optim = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * len(loader)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=args.lr, total_steps=steps,
                                                pct_start=0.1)
    torch.set_flush_denormal(True)
    step, start = 0, time.time()
    for epoch in range(args.epochs):
        for batch in loader:
            data = preprocessor(batch, True)
            imgs, samples = data['inputs']['imgs'], data['data_samples']
            metas = [s.metainfo for s in samples]
            cameras = stack_camera_matrices(metas, imgs.device)
            B, N = imgs.shape[:2]
            feats = neck(backbone(imgs.flatten(0, 1)))[m.get('img_neck_out_index', 0)]
            depth_logits, cls_logits = head(feats)
            targets = [cell_targets(data['inputs']['points'][b][:, :3],
                                    point_classes(data['inputs']['points'][b][:, :3],
                                                  samples[b].gt_instances_3d),
                                    cameras, b, vt.image_size, vt.feature_size, vt.dbound)
                       for b in range(B)]
            depth_t = torch.cat([t[0] for t in targets])  # (B * N, h, w)
            cls_t = torch.cat([t[1] for t in targets])
            loss_depth = F.cross_entropy(depth_logits, depth_t, ignore_index=-1)
            loss_cls = F.cross_entropy(cls_logits, cls_t, ignore_index=-1)
            loss = loss_depth + loss_cls
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 35)
            optim.step()
            sched.step()
            step += 1
            if step % 20 == 0 or step == steps:
                print(f'[pretrain] epoch {epoch + 1}/{args.epochs} step {step}/{steps} '
                      f'loss_depth {loss_depth.item():.3f} loss_cls {loss_cls.item():.3f} '
                      f'({time.time() - start:.0f} s)', flush=True)
    state = {f'img_backbone.{k}': v for k, v in backbone.state_dict().items()}
    state.update({f'img_neck.{k}': v for k, v in neck.state_dict().items()})
    state.update(lss_depthnet_init(head, vt.out_channels))
    with atomic_path(args.out) as tmp:
        torch.save({'state_dict': state}, tmp)
    print(f'wrote {len(state)} tensors to {args.out}')


if __name__ == '__main__':
    main()
