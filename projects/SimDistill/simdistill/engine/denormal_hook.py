"""A hook that flushes denormal floats to zero for the run (CPU speed)."""
import torch
from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module()
class FlushDenormalHook(Hook):
    """Sets ``torch.set_flush_denormal(True)`` before the run.

    Why: as a detector trains on CPU, some activations and optimizer states decay into the
    denormal float range, where x86 arithmetic is ~100x slower. Measured here on the CPU LiDAR
    config: 0.65 s/iter with flushing, climbing past 12 s/iter by iteration 30 without. Values
    below ~1e-38 become 0, which no loss here can notice. A no-op where the CPU lacks the mode.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if torch.set_flush_denormal(True):
            runner.logger.info('FlushDenormalHook: denormal floats are flushed to zero')
