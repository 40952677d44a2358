"""Non-finite losses and gradients never reach the weights.

``NonFiniteGuardOptimWrapper`` checks the total loss before backward and every gradient before
the optimizer step. On inf/NaN it either stops training (``on_non_finite='raise'``: a
``FloatingPointError`` naming the iteration and the loss terms or the number of parameters
involved) or skips the step (``'skip'``: gradients dropped, weights and optimizer state
untouched, a warning naming the same). The loss terms are named by the detectors'
``parse_losses`` (:class:`NamesNonFiniteLosses`), which records them in the message hub, so
the check works the same under DDP (whose ``train_step`` calls the module's ``parse_losses``
and the wrapper's ``update_params``, not the module's ``train_step``).

Under DDP every rank takes the same branch: whether the loss is finite is all-reduced (one
integer per step) before backward, so a loss that is non-finite on one rank only stops or skips
the step on all of them. Without that, the rank that skipped backward would leave the others
waiting in DDP's gradient all-reduce (or pair their all-reduces with its next step's). The
gradients need no such vote: DDP has already averaged them, NaN included, on every rank.

    optim_wrapper = dict(type='NonFiniteGuardOptimWrapper', on_non_finite='skip',
                         optimizer=..., clip_grad=...)
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor

TERMS_KEY = 'non_finite_loss_terms'


class NamesNonFiniteLosses:
    """Detector mixin: ``parse_losses`` records the names of non-finite loss terms (message hub
    info ``non_finite_loss_terms``) for :class:`NonFiniteGuardOptimWrapper`."""

    def parse_losses(self, losses: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        loss, log_vars = super().parse_losses(losses)
        bad = [name for name, value in log_vars.items()
               if name != 'loss' and not bool(torch.isfinite(value).all())]
        MessageHub.get_current_instance().update_info(TERMS_KEY, bad)
        return loss, log_vars


def finite_on_every_rank(loss: Tensor) -> bool:
    """Whether ``loss`` is finite on this rank and, under torch.distributed, on every rank.

    Args:
        loss: this rank's total loss (any shape).

    Returns:
        bool: the same answer on every rank (a MIN all-reduce of one int32 on the loss's
        device, when a process group of more than one rank is initialised).
    """
    finite = torch.isfinite(loss.detach()).all().to(torch.int32).reshape(1)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


@OPTIM_WRAPPERS.register_module()
class NonFiniteGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that refuses to step on a non-finite loss or gradient.

    Args:
        on_non_finite: ``'raise'`` (stop training) or ``'skip'`` (drop this step).
        Everything else as ``OptimWrapper`` (``optimizer``, ``clip_grad``,
        ``accumulative_counts``).

    Attributes:
        skipped_steps: how many steps were skipped.
    """

    def __init__(self, *args, on_non_finite: str = 'raise', **kwargs) -> None:
        if on_non_finite not in ('raise', 'skip'):
            raise ValueError(f"on_non_finite must be 'raise' or 'skip', got {on_non_finite!r}")
        super().__init__(*args, **kwargs)
        self.on_non_finite = on_non_finite
        self.skipped_steps = 0

    def update_params(self, loss: Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if not finite_on_every_rank(loss):
            if bool(torch.isfinite(loss).all()):
                self._non_finite('non-finite loss on another rank (this rank\'s loss is '
                                 f'{float(loss.detach().float().sum())})')
                return
            hub = MessageHub.get_current_instance()
            terms = hub.get_info(TERMS_KEY) or ['loss']
            self._non_finite(f'non-finite loss ({", ".join(terms)} = '
                             f'{float(loss.detach().float().sum())})')
            return
        super().update_params(loss, step_kwargs, zero_kwargs)

    def step(self, **kwargs) -> None:
        bad = self._non_finite_grads()
        if bad:
            self._non_finite(f'non-finite gradients in {len(bad)} parameter tensors '
                             f'(shapes {bad[:5]})')
            return
        super().step(**kwargs)

    def _non_finite_grads(self) -> List[tuple]:
        return [tuple(p.shape) for group in self.optimizer.param_groups for p in group['params']
                if p.grad is not None and not bool(torch.isfinite(p.grad).all())]

    def _non_finite(self, what: str) -> None:
        iteration = MessageHub.get_current_instance().get_info('iter')
        message = f'iteration {iteration}: {what}'
        if self.on_non_finite == 'raise':
            raise FloatingPointError(
                f'{message}; training stopped before the weights changed (set '
                "optim_wrapper.on_non_finite='skip' to drop such steps instead)")
        self.zero_grad()
        self.skipped_steps += 1
        print_log(f'{message}: step skipped, weights unchanged ({self.skipped_steps} skipped '
                  'so far)', logger='current', level=30)
