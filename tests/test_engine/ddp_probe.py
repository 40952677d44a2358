"""A hook for the distributed test (imported through ``custom_imports``): each rank saves its
weights before and after training and what the DDP wrapper holds."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankWeightsProbeHook(Hook):

    def _save(self, runner, stage: str) -> None:
        model = runner.model
        inner = getattr(model, 'module', model)
        teacher = getattr(inner, 'teacher', None)
        torch.save(
            dict(params={n: p.detach().clone() for n, p in inner.named_parameters()},
                 wrapper=type(model).__name__,
                 wrapped_names=[n for n, _ in model.named_parameters()],
                 teacher={k: v.clone() for k, v in teacher.state_dict().items()}
                 if teacher is not None else None,
                 iter=runner.iter),
            osp.join(runner.work_dir, f'{stage}_rank{get_rank()}.pth'))

    def before_train(self, runner) -> None:
        self._save(runner, 'before')

    def after_train(self, runner) -> None:
        self._save(runner, 'after')
