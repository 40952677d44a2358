"""How much of the clipped gradient each loss term makes: per term, the norm of its gradient
over the model's trainable parameters (and per module), on a few training batches.

    python tools/benchmarks/term_gradients.py CONFIG [--checkpoint CKPT] [--batches 4] \
        [--out term_gradients.json] [--cfg-options ...]

The clip (``optim_wrapper.clip_grad.max_norm``) acts on the norm of the *sum* of the terms'
gradients. Whether a distillation term (e.g. SimDistill's x100 LiDAR term) makes the clip
shrink the detection gradient is read here: the total's norm against the detection term's, and
where each term's gradient lands (a term that trains only its own adapter adds to the norm the
clip sees without reaching the detector). :class:`GradientDiagnosticsHook` shows the same terms
at the BEV maps during training; this tool sees the parameters, on demand.

Terms: ``detection`` (every loss key not starting with ``loss_distill``), each
``loss_distill_*`` alone, ``total`` (every loss key, as mmengine sums them). Prints a table of
medians over the batches and writes every batch's numbers as JSON.
"""
import argparse
import statistics
import sys
from collections import defaultdict
from typing import Dict, List, Mapping

import torch
from mmengine.config import DictAction

import simdistill  # noqa: F401
from simdistill.compat import apply_all
from simdistill.deployment.loading import load_config
from simdistill.engine.gradient_diagnostics import PREFIX, bev_gradient_norms
from simdistill.utils.atomic import write_json_atomic


def term_groups(losses: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``detection``, each ``loss_distill_*`` and ``total`` of a loss dict (scalars)."""
    keys = [k for k in losses if 'loss' in k]
    detection = [k for k in keys if not k.startswith('loss_distill')]
    groups = {'detection': sum(losses[k] for k in detection)} if detection else {}
    groups.update({k[len('loss_'):]: losses[k] for k in keys if k.startswith('loss_distill')})
    groups['total'] = sum(losses[k] for k in keys)
    return groups


def module_of(name: str, depth: int) -> str:
    """The first ``depth`` parts of a parameter's name (``student.img_backbone``)."""
    return '.'.join(name.split('.')[:depth])


def gradient_norms(terms: Mapping[str, torch.Tensor], params: Mapping[str, torch.nn.Parameter],
                   depth: int) -> Dict[str, Dict[str, float]]:
    """term -> ``{'all': norm over every parameter, <module>: norm over its parameters}``; a
    module a term does not reach reports 0. Per parameter by the hook's own
    :func:`bev_gradient_norms` (one backward per term), then summed in squares per module."""
    per_parameter = bev_gradient_norms(terms, params)
    out = {}
    for term in terms:
        squares: Dict[str, float] = defaultdict(float)
        for name in params:
            square = float(per_parameter.get(f'{PREFIX}.{name}.{term}', 0.0))**2
            squares[module_of(name, depth)] += square
            squares['all'] += square
        out[term] = {k: v**0.5 for k, v in squares.items()}
    return out


def measure(cfg, checkpoint: str, batches: int) -> List[Dict[str, Dict[str, float]]]:
    """Per batch, :func:`gradient_norms` of the config's model in train mode."""
    from mmdet3d.registry import MODELS
    from mmengine.runner import Runner, load_checkpoint
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.train()
    depth = 2 if cfg.model.type == 'SimDistill' else 1
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=cfg.get('randomness', {}).get(
        'seed', 0))
    rows = []
    for i, batch in enumerate(loader):
        if i == batches:
            break
        data = model.data_preprocessor(batch, True)
        losses = model.loss(data['inputs'], data['data_samples'])
        rows.append(gradient_norms(term_groups(losses), params, depth))
        print(f'[term_gradients] batch {i + 1}/{batches}: total {rows[-1]["total"]["all"]:.1f}, '
              f'detection {rows[-1].get("detection", {}).get("all", 0):.1f}', flush=True)
    return rows


def medians(rows: List[Dict[str, Dict[str, float]]]) -> Dict[str, Dict[str, float]]:
    """term -> module -> median over the batches."""
    return {term: {m: statistics.median(r[term][m] for r in rows) for m in rows[0][term]}
            for term in rows[0]}


def table(summary: Dict[str, Dict[str, float]], clip: float) -> str:
    """Markdown: per term the norm over all parameters, the clip factor it alone would get and
    the modules that carry most of it."""
    lines = [f'| term | gradient norm (all parameters) | clip factor alone (clip {clip}) | '
             'largest modules |', '|---|---|---|---|']
    for term, norms in summary.items():
        modules = sorted(((v, k) for k, v in norms.items() if k != 'all'), reverse=True)[:3]
        factor = min(1.0, clip / norms['all']) if clip and norms['all'] > 0 else 1.0
        lines.append(f'| {term} | {norms["all"]:.4g} | {factor:.3g} | ' +
                     ', '.join(f'{k} {v:.3g}' for v, k in modules if v > 0) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights to measure at (default: the init)')
    parser.add_argument('--batches', type=int, default=4)
    parser.add_argument('--out', help='JSON with every batch\'s norms')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args(argv)
    apply_all()
    cfg = load_config(args.config, args.cfg_options)
    rows = measure(cfg, args.checkpoint, args.batches)
    summary = medians(rows)
    clip = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    print(table(summary, clip))
    if args.out:
        write_json_atomic(args.out, dict(config=args.config, checkpoint=args.checkpoint,
                                         clip=clip, batches=rows, median=summary))


if __name__ == '__main__':
    main(sys.argv[1:])
