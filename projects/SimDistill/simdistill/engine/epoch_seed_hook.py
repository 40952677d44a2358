"""Per-epoch reseeding, so a run killed at an epoch's end and resumed finishes bit for bit
where the uninterrupted run does.

mmengine's resume restores the weights, the optimizer, the schedulers, the iteration and the
sampler's order (``DefaultSampler`` shuffles with ``seed + epoch``), and seeds Python, NumPy and
torch once, with the checkpoint's seed. It does not restore those global random streams, so
after a resume the augmentations (``BEVGlobalRotScaleTrans``, ``BEVRandomFlip3D``,
``MultiViewImageAug3D`` draw from NumPy / ``random`` in the main process when the dataloader
has no workers) and any dropout draw different numbers than the uninterrupted run would have.
Reseeding at the start of every training epoch from ``(runner.seed, epoch)`` makes each epoch's
draws a function of the epoch alone, whatever ran before it (earlier epochs, validation, a
process that died): nothing needs to be stored in the checkpoint.

Exact resume also needs what mmengine cannot give: an epoch-end checkpoint (an epoch-based
loop restarts a part-done epoch from its first batch; :class:`SeedEachEpochHook` warns when
that happens) and dataloader workers that are either absent or re-created each epoch
(``persistent_workers=False``): mmengine seeds each worker once with ``seed + worker_id``, so a
persistent worker's stream continues across epochs in one process and restarts in the next.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop


def epoch_seed(seed: int, epoch: int) -> int:
    """The 32-bit seed of ``epoch`` in a run seeded with ``seed`` (NumPy's ``SeedSequence``
    mixing, so neighbouring epochs and the workers' ``seed + worker_id`` share no stream)."""
    return int(np.random.SeedSequence([seed % 2**32, epoch]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seeds Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too


@HOOKS.register_module()
class SeedEachEpochHook(Hook):
    """Reseeds ``random``, NumPy and torch at the start of every training epoch with
    :func:`epoch_seed` of the runner's seed and the epoch (0-based).

    Args:
        seed: overrides ``runner.seed`` (the ``randomness`` seed, rank offset included when
            ``diff_rank_seed``). Defaults to None.
    """

    priority = 'VERY_LOW'  # after every other before_train_epoch hook, right before the data

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop):
            return  # an iteration-based loop replays the batches it skips on resume
        iters_per_epoch = len(loop.dataloader)
        if runner.iter != runner.epoch * iters_per_epoch:
            runner.logger.warning(
                f'SeedEachEpochHook: resumed at iteration {runner.iter}, inside epoch '
                f'{runner.epoch + 1} ({iters_per_epoch} iterations each): mmengine restarts '
                'that epoch from its first batch, so this run will not match an '
                'uninterrupted one. Resume from an epoch-end checkpoint for that.')

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed if self.seed is None else self.seed
        seed_everything(epoch_seed(seed, runner.epoch))
