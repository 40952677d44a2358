"""A pipeline whose random transforms draw from streams of their own, so that two models' pipelines
that share a transform draw the same augmentation for the same sample.

Why it exists: the camera baseline's pipeline loads images only; the distiller's also loads
points, chooses sweeps (``np.random.choice`` on real nuScenes) and shuffles them
(``torch.randperm``). With every transform drawing from one global stream, each extra draw shifts
all later ones, so at the same seed the two models see different image crops, flips and BEV
rotations: their seeds are not paired, and a difference between them mixes the method with
augmentation noise. Here each transform reseeds ``random``, NumPy's global generator and torch's
CPU generator from ``(sample base, transform type, occurrence)`` just before it runs, and the
global streams are restored afterwards, having advanced by exactly one draw per sample whatever
the pipeline holds.
"""
import random
import zlib
from collections import Counter
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import Compose

__all__ = ['IsolatedRandomCompose', 'transform_stream_seed']


def transform_stream_seed(sample_base: int, transform_name: str, occurrence: int) -> int:
    """The 32-bit seed of one transform's stream for one sample.

    Args:
        sample_base: the sample's draw from the worker's global NumPy stream.
        transform_name: the transform's class name (the same in every pipeline that has it).
        occurrence: how many transforms of that class came before it in the pipeline.
    """
    entropy = [sample_base, zlib.crc32(transform_name.encode()), occurrence]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _seed_streams(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)  # CPU only: never touches a CUDA generator


class IsolatedRandomCompose(Compose):
    """``mmcv.transforms.Compose`` with one random stream per transform and sample.

    A transform's draws depend on the sample's base draw, its class name and its occurrence
    among transforms of that class, not on what other transforms ran before it. The sample's
    base is one draw from the global NumPy stream (seeded per epoch and per dataloader worker by
    the runner), so the sequence of bases depends only on the sample order, which the sampler
    fixes from the seed.
    """

    def __call__(self, data: dict) -> Optional[dict]:
        base = int(np.random.randint(0, 2**31))
        saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
        seen: Counter = Counter()
        try:
            for transform in self.transforms:
                name = type(transform).__name__
                _seed_streams(transform_stream_seed(base, name, seen[name]))
                seen[name] += 1
                data = transform(data)
                if data is None:
                    return None
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])
        return data
