"""Everything the sensors see besides the ground: yaw-only boxes ("solids") with a colour and a
material, each either part of an annotated object or of the background."""
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .boxes import BoxState

__all__ = ['Solids', 'concatenate_solids', 'empty_solids']


@dataclass(frozen=True)
class Solids(BoxState):
    """S solids in the global frame; ``class_ids`` holds the owning object's class (-1 for the
    background).

    Attributes:
        owners: ``(S,)`` index of the object a solid belongs to, -1 for the background.
        materials: ``(S,)`` indices into ``MATERIALS``.
        colours: ``(S, 3)`` RGB in [0, 1] of a fully lit face.
        patterns: ``(S,)`` PATTERN_* of its faces (windows).
    """

    owners: np.ndarray
    materials: np.ndarray
    colours: np.ndarray
    patterns: np.ndarray

    def select(self, index) -> 'Solids':
        """The solids at ``index`` (a bool mask or integer indices)."""
        return Solids(self.centers[index], self.sizes_wlh[index], self.yaws[index],
                      self.class_ids[index], self.owners[index], self.materials[index],
                      self.colours[index], self.patterns[index])

    @property
    def bottoms(self) -> np.ndarray:
        """``(S,)`` height of each solid's bottom face (m)."""
        return self.centers[:, 2] - 0.5 * self.sizes_wlh[:, 2]


def empty_solids() -> Solids:
    return Solids(
        np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0, np.int64),
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0, np.int64))


def concatenate_solids(parts: Sequence[Solids]) -> Solids:
    """One :class:`Solids` of all of ``parts``, in order."""
    parts = [p for p in parts if len(p)] or [empty_solids()]
    return Solids(*(np.concatenate([getattr(p, f) for p in parts])
                    for f in ('centers', 'sizes_wlh', 'yaws', 'class_ids', 'owners', 'materials',
                              'colours', 'patterns')))
