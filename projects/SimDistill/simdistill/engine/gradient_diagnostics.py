"""How hard each loss term pulls on each BEV map: per-term gradient norms, logged now and then.

Why: SimDistill adds four feature/prediction terms (one of them weighted x100) to the detection
loss, and the paper clips the total gradient norm at 35. Whether a term dominates, or whether
clipping shrinks the detection gradient because of another term, is read off the gradients at
the BEV maps the terms act on — not off the loss values, whose scales differ. The model computes
them (``torch.autograd.grad`` per term, the graph retained) only on iterations the hook marks,
and returns them beside its losses under keys without ``loss`` (so mmengine logs them and does
not add them to the loss). The total norm against the clip is mmengine's own ``grad_norm`` log.

mmengine's log smooths every value over its window (the last 10 values of a key, i.e. 10
diagnostics apart), so the hook also appends each marked iteration's raw values, with that
step's total norm and the clip, to ``<work_dir>/gradient_diagnostics.jsonl``;
:func:`summarise_gradient_log` reads it back.
"""
import json
import os.path as osp
import statistics
from typing import Dict, Mapping, Optional

import torch
from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor

__all__ = ['bev_gradient_norms', 'GradientDiagnosticsHook', 'GradientDiagnosticsMixin',
           'summarise_gradient_log']

PREFIX = 'gradnorm'
LOG_NAME = 'gradient_diagnostics.jsonl'


def bev_gradient_norms(terms: Mapping[str, Tensor],
                       maps: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """L2 norm of each term's gradient at each map, ``'gradnorm.<map>.<term>'`` -> scalar.

    A term that does not reach a map (e.g. the fused term at the camera BEV only through the
    fuser, or a detection term that stops before it) reports its true norm, 0 where unused.

    Args:
        terms: name -> scalar loss term (part of the graph of ``maps``).
        maps: name -> feature map ``(B, C, ny, nx)`` that requires grad.
    """
    names, tensors = list(maps), [maps[m] for m in maps]
    out = {}
    for term, value in terms.items():
        if not value.requires_grad:
            continue
        grads = torch.autograd.grad(value, tensors, retain_graph=True, allow_unused=True)
        for name, grad in zip(names, grads):
            norm = grad.detach().norm() if grad is not None else value.new_zeros(())
            out[f'{PREFIX}.{name}.{term}'] = norm.detach()
    return out


class GradientDiagnosticsMixin:
    """For detectors: ``self.record_gradient_norms`` (set by the hook) asks :meth:`loss` to add
    :func:`bev_gradient_norms` of its terms to its outputs on this iteration."""

    record_gradient_norms: bool = False

    def gradient_diagnostics(self, losses: Mapping[str, Tensor], groups: Mapping[str, list],
                             maps: Mapping[str, Optional[Tensor]]) -> Dict[str, Tensor]:
        """Per-group gradient norms, when this iteration is marked; else nothing.

        Args:
            losses: the model's loss dict.
            groups: term name -> the loss keys summed into it (e.g. ``detection`` -> every key
                of the head's loss).
            maps: BEV map name -> tensor (None entries are skipped).
        """
        if not (self.training and self.record_gradient_norms):
            return {}
        terms = {name: sum(losses[k] for k in keys) for name, keys in groups.items() if keys}
        present = {k: v for k, v in maps.items() if v is not None and v.requires_grad}
        return bev_gradient_norms(terms, present)


@HOOKS.register_module()
class GradientDiagnosticsHook(Hook):
    """Marks every ``interval``-th training iteration for :class:`GradientDiagnosticsMixin`.

    After a marked iteration it appends one line to ``<work_dir>/gradient_diagnostics.jsonl``:
    ``{"iter", "epoch", "grad_norm" (the total norm before clipping, mmengine's), "max_norm"
    (the clip, or null), "gradnorm.<map>.<term>": ...}``. A resumed run writes the iterations
    after its checkpoint again; :func:`summarise_gradient_log` keeps the last line of each.

    Args:
        interval: iterations between two diagnostics (each costs one extra backward pass per
            term on that iteration).
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 50) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.record_gradient_norms = self.every_n_train_iters(runner, self.interval)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        marked, model.record_gradient_norms = model.record_gradient_norms, False
        norms = {k: float(v) for k, v in (outputs or {}).items() if k.startswith(PREFIX)}
        if not (marked and norms):
            return
        scalars = runner.message_hub.log_scalars  # the optimiser wrapper's norm of this step
        total = scalars.get('train/grad_norm')
        clip = getattr(runner.optim_wrapper, 'clip_grad_kwargs', None) or {}
        record = dict(iter=runner.iter, epoch=runner.epoch,
                      grad_norm=float(total.current()) if total is not None else None,
                      max_norm=clip.get('max_norm'), **norms)
        with open(osp.join(runner.work_dir, LOG_NAME), 'a') as f:
            f.write(json.dumps(record) + '\n')


def summarise_gradient_log(path: str) -> Dict[str, object]:
    """Medians of a :class:`GradientDiagnosticsHook` log over the run.

    Returns:
        ``steps`` (diagnosed iterations), ``grad_norm`` (median total norm before clipping),
        ``clipped_share`` (share of those steps above the clip), ``clip_factor`` (median
        ``min(1, max_norm / grad_norm)``: how much the clip shrank the whole step, every
        term's gradient alike) and each ``gradnorm.<map>.<term>`` median.
    """
    records = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{path}:{number}: not a JSON line ({error})') from None
            records[record['iter']] = record  # a resumed run's repeat replaces the first
    rows = [records[i] for i in sorted(records)]
    norms = [r['grad_norm'] for r in rows if r.get('grad_norm') is not None]
    clips = [(r['grad_norm'], r['max_norm']) for r in rows
             if r.get('grad_norm') is not None and r.get('max_norm')]
    out: Dict[str, object] = dict(steps=len(rows))
    if norms:
        out['grad_norm'] = statistics.median(norms)
    if clips:
        out['clipped_share'] = sum(g > m for g, m in clips) / len(clips)
        out['clip_factor'] = statistics.median(min(1.0, m / g) if g > 0 else 1.0
                                               for g, m in clips)
    keys = sorted({k for r in rows for k in r if k.startswith(PREFIX)})
    out.update({k: statistics.median(r[k] for r in rows if k in r) for k in keys})
    return out
