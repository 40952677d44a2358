"""Reuse of pool plans while the frustum geometry (calibration + augmentation) is unchanged."""
from typing import Any, Callable, List, Sequence, Tuple

import torch
from torch import Tensor

from .plan import BEVPoolPlan

Key = Tuple[Any, ...]


def _freeze(item: Any) -> Any:
    # Keep a private copy: the caller may update its matrices in place after the lookup.
    return item.detach().clone() if isinstance(item, Tensor) else item


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b))
    return type(a) is type(b) and a == b


class BEVPoolPlanCache:
    """Holds the plans of the last ``maxsize`` geometries, keyed by what determines them.

    The key is a sequence of tensors (e.g. the camera-to-ego, intrinsic and image/BEV
    augmentation matrices the view transform used) and plain values (the grid, the frustum
    shape). Two keys match iff they have the same length and every item matches: tensors by
    shape, dtype, device and ``torch.equal`` (so a NaN never matches), other values by ``==``.

    Attributes:
        hits: lookups answered from the cache.
        misses: lookups that built a plan.
    """

    def __init__(self, maxsize: int = 1) -> None:
        if maxsize < 1:
            raise ValueError(f'maxsize must be >= 1, got {maxsize}')
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._entries: List[Tuple[Key, BEVPoolPlan]] = []  # most recently used last

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Sequence[Any], build: Callable[[], BEVPoolPlan]) -> BEVPoolPlan:
        """Returns the plan cached for ``key``, or calls ``build()`` and caches its result.

        Args:
            key: tensors and hashable values that fully determine the geometry.
            build: zero-argument function returning the plan for this geometry.
        """
        key = tuple(key)
        for i, (cached_key, plan) in enumerate(self._entries):
            if len(cached_key) == len(key) and all(map(_same, cached_key, key)):
                self.hits += 1
                self._entries.append(self._entries.pop(i))
                return plan
        self.misses += 1
        plan = build()
        if not isinstance(plan, BEVPoolPlan):
            raise TypeError(f'build() must return a BEVPoolPlan, got {type(plan).__name__}')
        self._entries.append((tuple(_freeze(k) for k in key), plan))
        del self._entries[:-self.maxsize]
        return plan

    def clear(self) -> None:
        """Drops every cached plan (the counters are kept)."""
        self._entries.clear()
