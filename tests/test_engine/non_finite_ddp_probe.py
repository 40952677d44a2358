"""Two gloo ranks train a tiny model through mmengine's DDP wrapper and the non-finite guard;
rank 1's loss is NaN at step 1 only. Each rank saves what happened at every step and its final
weights to ``<out>/rank<r>.pt``. Run by tests/test_non_finite_ddp.py:

    python tests/non_finite_ddp_probe.py OUT_DIR raise|skip PORT
"""
import importlib.util
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, MMDistributedDataParallel
from torch import nn


def load_non_finite():
    """simdistill/engine/non_finite.py alone (it needs torch and mmengine only): importing the
    package would import mmdet3d in each spawned rank, some 10 s apiece."""
    package = importlib.util.find_spec('simdistill').submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location(
        'simdistill_non_finite', os.path.join(package, 'engine', 'non_finite.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


non_finite = load_non_finite()
NamesNonFiniteLosses = non_finite.NamesNonFiniteLosses
NonFiniteGuardOptimWrapper = non_finite.NonFiniteGuardOptimWrapper

STEPS, NAN_RANK, NAN_STEP = 4, 1, 1


class Toy(NamesNonFiniteLosses, BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x, nan, mode='loss'):
        pred = self.linear(x)
        fit = ((pred - 1.0)**2).mean()
        return dict(loss_fit=fit * float('nan') if nan else fit, loss_small=0.1 * fit)


def worker(rank: int, out: str, mode: str, port: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
    # A rank left waiting in an all-reduce fails after 20 s instead of hanging the test.
    dist.init_process_group('gloo', rank=rank, world_size=2, timeout=timedelta(seconds=20))
    torch.manual_seed(0)
    model = MMDistributedDataParallel(Toy())
    wrapper = NonFiniteGuardOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), on_non_finite=mode)
    hub = MessageHub.get_instance(f'probe-{rank}')
    events = []
    for step in range(STEPS):
        hub.update_info('iter', step)
        x = torch.full((2, 3), float(rank + step + 1))
        try:
            model.train_step(dict(x=x, nan=(rank == NAN_RANK and step == NAN_STEP)), wrapper)
            events.append('stepped')
        except FloatingPointError as err:
            events.append(f'raised: {err}')
            break
        events[-1] += f' weights {model.module.linear.weight.detach().flatten().tolist()}'
    torch.save(dict(events=events, skipped=wrapper.skipped_steps,
                    weight=model.module.linear.weight.detach().clone(),
                    bias=model.module.linear.bias.detach().clone()),
               os.path.join(out, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    out_dir, on_non_finite, master_port = sys.argv[1:4]
    mp.spawn(worker, args=(out_dir, on_non_finite, master_port), nprocs=2, join=True)
