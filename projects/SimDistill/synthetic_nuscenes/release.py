"""Which scenes a release holds, and for each its name, split, log, place, time and world.

A scene's world is drawn from the streams ``(seed, world_index, stream name)``
(``scene.stream_rng``). v1.0-mini: one world, ``seed``, scene i is world index i. v1.0-trainval:
train scene k of the devkit's ``train`` list is world index k under ``seed``, val scene k of its
``val`` list world index k under ``val_seed``; the seeds differ (the config checks it) and are one
32-bit word each, so the first word of every val stream's entropy differs from every train
stream's: no val scene shares a stream with a train scene.
"""
from dataclasses import dataclass
from typing import Tuple

from .catalog import (LOGS, MINI_VAL, MINI_VERSION, SCENES, LogSpec, location_xy, log_offset_s,
                      scene_start_xy)
from .config import SyntheticNuScenesConfig
from .trainval import SPLITS, split_scene_names, trainval_slot

__all__ = ['ScenePlan', 'plan_release']


@dataclass(frozen=True)
class ScenePlan:
    """One scene of a release, before it is simulated.

    Attributes:
        index: Position in the release (the order scenes are written in).
        name: Scene name, e.g. 'scene-0061'.
        split: The devkit split holding the name: 'mini_train'/'mini_val' or 'train'/'val'.
        log: The drive it is recorded in.
        seed: World seed of its random streams.
        world_index: Its scene index in that world's streams.
        samples: Key frames.
        start_xy: Nominal global (x, y) of the ego at its start (metres).
        log_offset_s: Nominal start after the log's start (seconds).
    """

    index: int
    name: str
    split: str
    log: LogSpec
    seed: int
    world_index: int
    samples: int
    start_xy: Tuple[float, float]
    log_offset_s: float


def plan_release(config: SyntheticNuScenesConfig) -> Tuple[ScenePlan, ...]:
    """The scenes of the release ``config`` describes, in writing order (train, then val)."""
    if config.version == MINI_VERSION:
        return tuple(_mini_scene(config, i) for i in range(len(SCENES)))
    plans = []
    for split in SPLITS:
        count, seed, samples = ((config.train_scenes, config.seed, config.samples_per_scene)
                                if split == 'train' else
                                (config.val_scenes, config.val_seed,
                                 config.val_samples_per_scene))
        for k, name in enumerate(split_scene_names(split)[:count]):
            slot = trainval_slot(split, k)
            plans.append(
                ScenePlan(len(plans), name, split, slot.log, seed, k, samples,
                          location_xy(slot.log.location, slot.cell),
                          log_offset_s(slot.log_slot, samples)))
    return tuple(plans)


def _mini_scene(config: SyntheticNuScenesConfig, i: int) -> ScenePlan:
    name, log_index = SCENES[i]
    earlier = sum(1 for _, other in SCENES[:i] if other == log_index)
    return ScenePlan(i, name, 'mini_val' if name in MINI_VAL else 'mini_train',
                     LOGS[log_index], config.seed, i, config.samples_per_scene,
                     scene_start_xy(i), log_offset_s(earlier, config.samples_per_scene))
