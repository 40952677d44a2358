"""mmdet3d's nuScenes dataset with its inputs checked: data root, info file, cameras.

mmdet3d reads whatever info pkl it is given, with plain pickle (so a crafted file runs its
code), an mmdet3d 0.x file fails with "Annotation must have data_list and metainfo keys" (no
file named), another dataset's file parses with wrong keys or silently maps every box to no
class, and a sample that lost a camera reaches the model with five images.
:class:`CheckedNuScenesDataset` reads the info file with the restricted unpickler of
:mod:`simdistill.datasets.safe_pickle` and raises :mod:`simdistill.errors` instead, naming the
file, the key and the sample.
"""
import os.path as osp
from typing import Any, List, Optional, Union

from mmdet3d.datasets import NuScenesDataset
from mmdet3d.registry import DATASETS

from ..errors import InfoFileError, MissingFileError, SampleLayoutError
from .safe_pickle import load_info_file
from .transforms.random_streams import IsolatedRandomCompose


def check_data_root(data_root: Optional[str], key: str = 'data_root') -> None:
    """Raises :class:`MissingFileError` naming ``key`` when ``data_root`` is not a folder."""
    if data_root and not osp.isdir(data_root):
        raise MissingFileError(f'{key} {data_root!r} does not exist (set it in the config or '
                               f'with --cfg-options {key}=...)')


def info_layout_problem(infos: Any) -> Optional[str]:
    """What is wrong with the top level of a loaded info pkl, or None if it is mmdet3d 1.x's.

    mmdet3d 1.x infos are ``{'metainfo': dict, 'data_list': list}``; 0.x infos were
    ``{'infos': list, 'metadata': dict}`` (or a bare list).
    """
    if isinstance(infos, dict) and isinstance(infos.get('metainfo'), dict) and isinstance(
            infos.get('data_list'), list):
        return None
    if isinstance(infos, dict) and 'infos' in infos:
        return (f'is an mmdet3d 0.x info file (keys {sorted(infos)}); this project reads '
                'mmdet3d 1.x infos (metainfo, data_list): re-create them with '
                'tools/create_data.py')
    if isinstance(infos, dict):
        return (f'has keys {sorted(infos)}, expected an mmdet3d 1.x info file with '
                'metainfo (dict) and data_list (list)')
    return (f'holds a {type(infos).__name__}, expected an mmdet3d 1.x info file: a dict with '
            'metainfo and data_list')


@DATASETS.register_module()
class CheckedNuScenesDataset(NuScenesDataset):
    """mmdet3d's ``NuScenesDataset`` that refuses bad input with a clear error.

    Args:
        isolate_transform_randomness: run the pipeline as :class:`IsolatedRandomCompose`: each
            random transform draws from its own per-sample stream, so pipelines that differ in
            other transforms (the distiller's loads and shuffles points, the camera baseline's
            does not) draw identical augmentations for the same sample and seed.
        **kwargs: mmdet3d's ``NuScenesDataset`` arguments.

    Raises:
        MissingFileError: ``data_root`` or ``ann_file`` does not exist.
        UnsafeInfoFileError: the info file holds an object other than plain data and numpy
            arrays (refused before any of it is built or run).
        CorruptFileError: the info file does not unpickle.
        InfoFileError: the info file has another layout (mmdet3d 0.x) or is of another dataset
            (its ``metainfo.dataset`` is not ``'nuscenes'``, or it lacks a configured class).
        SampleLayoutError: a sample lacks a camera of ``data_prefix`` (with
            ``modality.use_camera``) or its LiDAR file (with ``modality.use_lidar``).
    """

    def __init__(self, *args, isolate_transform_randomness: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isolate_transform_randomness:
            self.pipeline = IsolatedRandomCompose(self.pipeline.transforms)

    def load_data_list(self) -> List[dict]:
        check_data_root(self.data_root)
        if not osp.isfile(self.ann_file):
            raise MissingFileError(f'info file (ann_file) not found: {self.ann_file}')
        # mmengine's BaseDataset.load_data_list, reading through the restricted unpickler
        annotations = load_info_file(self.ann_file)
        problem = info_layout_problem(annotations)
        if problem is not None:
            raise InfoFileError(f'info file {self.ann_file} {problem}')
        for key, value in annotations['metainfo'].items():
            self._metainfo.setdefault(key, value)
        self.check_metainfo()  # also when data_list is empty (parse_data_info never ran)
        data_list = []
        for raw_info in annotations['data_list']:
            info = self.parse_data_info(raw_info)
            data_list.extend(info if isinstance(info, list) else [info])
        return data_list

    def check_metainfo(self) -> None:
        """The info file's ``metainfo`` (merged into the dataset's) must be nuScenes'."""
        dataset = self._metainfo.get('dataset')
        if dataset != 'nuscenes':
            raise InfoFileError(f'info file {self.ann_file} is of the {dataset!r} dataset '
                                "(metainfo['dataset']), expected 'nuscenes'")
        categories = self._metainfo.get('categories') or {}
        missing = [c for c in self._metainfo.get('classes', ()) if c not in categories]
        if missing:
            raise InfoFileError(f'info file {self.ann_file}: metainfo categories '
                                f'{sorted(categories)} lack the configured classes {missing}')

    def check_sample(self, info: dict) -> None:
        """The sample has every camera of ``data_prefix`` and a LiDAR file when used."""
        name = f"sample {info.get('sample_idx', '?')} (token {info.get('token', '?')})"
        if self.modality.get('use_lidar') and 'lidar_path' not in (info.get('lidar_points') or
                                                                   {}):
            raise SampleLayoutError(f'info file {self.ann_file}: {name} has no '
                                    "lidar_points['lidar_path']")
        if self.modality.get('use_camera'):
            expected = [k for k in self.data_prefix if k.startswith('CAM')]
            cameras = list(info.get('images') or {})
            missing = [c for c in expected if c not in cameras]
            if missing:
                raise SampleLayoutError(
                    f'info file {self.ann_file}: {name} has {len(cameras)} cameras {cameras}, '
                    f'missing {missing} (data_prefix names {len(expected)})')

    def parse_data_info(self, info: dict) -> Union[List[dict], dict]:
        self.check_metainfo()
        self.check_sample(info)
        return super().parse_data_info(info)
