"""A hook for the resume test (imported through ``custom_imports``): a resumed run saves what
it restored -- iteration, optimizer, schedulers, the teacher -- before its first step."""
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ResumeProbeHook(Hook):

    def before_train(self, runner) -> None:
        if runner.iter == 0:
            return  # a fresh run: nothing was restored
        teacher = getattr(runner.model, 'teacher', None)
        torch.save(
            dict(epoch=runner.epoch, iter=runner.iter,
                 optimizer=runner.optim_wrapper.state_dict(),
                 param_schedulers=[s.state_dict() for s in runner.param_schedulers],
                 teacher=None if teacher is None else teacher.state_dict(),
                 teacher_training=None if teacher is None else teacher.training),
            osp.join(runner.work_dir, 'restored.pth'))
