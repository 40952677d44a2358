"""How much a nuScenes release (real or synthetic) holds per split: scenes, samples and physical
objects of the 10 detection classes.

A physical object is an instance with at least one annotation that has a LiDAR point
(``num_lidar_pts > 0``), counted once however many key frames annotate it: the devkit's
evaluation drops annotations without points, and key frames of one object add no new object.
Classes are the devkit's (``category_to_detection_name``).
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Mapping, Sequence, Tuple

__all__ = ['VERSION_SPLITS', 'NO_SPLIT', 'SplitStats', 'count_objects', 'read_release_stats',
           'format_table', 'stats_record']

# The devkit splits (``create_splits_scenes``) of each release.
VERSION_SPLITS = {
    'v1.0-mini': ('mini_train', 'mini_val'),
    'v1.0-trainval': ('train', 'val'),
    'v1.0-test': ('test', ),
}
NO_SPLIT = 'no split'  # scenes of the release in none of its splits
_TABLES = ('scene', 'sample', 'sample_annotation', 'instance', 'category')


@dataclass(frozen=True)
class SplitStats:
    """Counts of one split.

    Attributes:
        split: Its name, e.g. 'val'.
        scenes: Scenes.
        samples: Key frames (``sample`` records).
        objects: Detection class -> physical objects, every class a key (0 if none).
    """

    split: str
    scenes: int
    samples: int
    objects: Dict[str, int]

    @property
    def total_objects(self) -> int:
        return sum(self.objects.values())


def count_objects(tables: Mapping[str, Sequence[dict]], splits: Sequence[str],
                  scene_split: Mapping[str, str]) -> Tuple[SplitStats, ...]:
    """Counts a release's records per split.

    Args:
        tables: Table name -> records, at least 'scene', 'sample', 'sample_annotation',
            'instance' and 'category'.
        splits: The splits to report, in order.
        scene_split: Scene name -> its split; scenes missing from it are reported under
            :data:`NO_SPLIT` (after ``splits``), which appears only when there are such scenes.

    Returns:
        One :class:`SplitStats` per split.
    """
    from nuscenes.eval.detection.constants import DETECTION_NAMES
    from nuscenes.eval.detection.utils import category_to_detection_name
    split_of_scene = {s['token']: scene_split.get(s['name'], NO_SPLIT) for s in tables['scene']}
    names = list(splits) + ([NO_SPLIT] if NO_SPLIT in split_of_scene.values() else [])
    scenes = {name: 0 for name in names}
    samples = dict(scenes)
    for split in split_of_scene.values():
        scenes[split] += 1
    split_of_sample = {}
    for sample in tables['sample']:
        split_of_sample[sample['token']] = split_of_scene[sample['scene_token']]
        samples[split_of_sample[sample['token']]] += 1
    category = {c['token']: c['name'] for c in tables['category']}
    detection_class = {
        i['token']: category_to_detection_name(category[i['category_token']])
        for i in tables['instance']
    }
    physical = {name: {cls: set() for cls in DETECTION_NAMES} for name in names}
    for ann in tables['sample_annotation']:
        cls = detection_class[ann['instance_token']]
        if ann['num_lidar_pts'] > 0 and cls is not None:
            physical[split_of_sample[ann['sample_token']]][cls].add(ann['instance_token'])
    return tuple(
        SplitStats(name, scenes[name], samples[name],
                   {cls: len(physical[name][cls]) for cls in DETECTION_NAMES})
        for name in names)


def read_release_stats(dataroot: str, version: str) -> Tuple[SplitStats, ...]:
    """:func:`count_objects` of the release ``<dataroot>/<version>`` over the devkit's splits
    of that version.

    Raises:
        ValueError: ``version`` is not one of :data:`VERSION_SPLITS`.
        FileNotFoundError: a table is missing (names the file).
    """
    if version not in VERSION_SPLITS:
        raise ValueError(f'version must be one of {tuple(VERSION_SPLITS)}, got {version!r}')
    from nuscenes.utils.splits import create_splits_scenes
    tables = {}
    for name in _TABLES:
        path = osp.join(dataroot, version, f'{name}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'no nuScenes table {path} (is {dataroot} a {version} '
                                    'dataroot?)')
        with open(path) as f:
            tables[name] = json.load(f)
    devkit_splits = create_splits_scenes()
    splits = VERSION_SPLITS[version]
    scene_split = {name: split for split in splits for name in devkit_splits[split]}
    return count_objects(tables, splits, scene_split)


def format_table(stats: Sequence[SplitStats]) -> str:
    """A Markdown table: one row per split, physical objects per class and in all."""
    classes = list(stats[0].objects) if stats else []
    lines = ['| split | scenes | samples | objects | ' + ' | '.join(classes) + ' |',
             '|---|' + '---:|' * (3 + len(classes))]
    for s in stats:
        lines.append(f'| {s.split} | {s.scenes} | {s.samples} | {s.total_objects} | ' +
                     ' | '.join(str(s.objects[c]) for c in classes) + ' |')
    return '\n'.join(lines)


def stats_record(stats: Sequence[SplitStats]) -> Dict[str, dict]:
    """The counts as JSON types: split -> scenes, samples, objects per class, total objects."""
    return {
        s.split: dict(scenes=s.scenes, samples=s.samples, objects=dict(s.objects),
                      total_objects=s.total_objects)
        for s in stats
    }
