"""The 13 tables of a nuScenes release, filled record by record and written as JSON."""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .catalog import LogSpec
from .geometry import RigidTransform
from .rig import RIG, SensorCalibration
from .taxonomy import ATTRIBUTES, CATEGORIES, VISIBILITY_LEVELS
from .tokens import TokenFactory

__all__ = ['TABLE_NAMES', 'NuScenesTables', 'link_chain']

TABLE_NAMES = ('attribute', 'calibrated_sensor', 'category', 'ego_pose', 'instance', 'log', 'map',
               'sample', 'sample_annotation', 'sample_data', 'scene', 'sensor', 'visibility')


def link_chain(records: Sequence[dict]) -> None:
    """Sets ``prev``/``next`` of consecutive records ('' at both ends), in place."""
    for i, record in enumerate(records):
        record['prev'] = records[i - 1]['token'] if i > 0 else ''
        record['next'] = records[i + 1]['token'] if i + 1 < len(records) else ''


class NuScenesTables:
    """Accumulates the records of one release; the vocabulary tables (category, attribute,
    visibility, sensor) are filled on construction.

    Args:
        tokens: Token source.
    """

    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens
        self.records: Dict[str, List[dict]] = {name: [] for name in TABLE_NAMES}
        for name, description, index in CATEGORIES:
            self.records['category'].append({
                'token': self.category_token(name),
                'name': name,
                'description': description,
                'index': index
            })
        for name, description in ATTRIBUTES:
            self.records['attribute'].append({
                'token': self.attribute_token(name),
                'name': name,
                'description': description
            })
        for token, level, description in VISIBILITY_LEVELS:
            self.records['visibility'].append({
                'description': description,
                'token': token,
                'level': level
            })
        for mount in RIG:
            self.records['sensor'].append({
                'token': self.sensor_token(mount.channel),
                'channel': mount.channel,
                'modality': mount.modality
            })

    def category_token(self, name: str) -> str:
        return self.tokens('category', name)

    def attribute_token(self, name: str) -> str:
        return self.tokens('attribute', name)

    def sensor_token(self, channel: str) -> str:
        return self.tokens('sensor', channel)

    def add_log(self, log: LogSpec) -> str:
        """Adds a log once; returns its token."""
        token = self.tokens('log', log.logfile)
        if all(r['token'] != token for r in self.records['log']):
            self.records['log'].append({
                'token': token,
                'logfile': log.logfile,
                'vehicle': log.vehicle,
                'date_captured': log.date_captured,
                'location': log.location
            })
        return token

    def add_map(self, location: str, log_tokens: List[str]) -> dict:
        """Adds the semantic-prior map of a location; returns the record."""
        token = self.tokens('map', location)
        record = {
            'category': 'semantic_prior',
            'token': token,
            'filename': f'maps/{token}.png',
            'log_tokens': list(log_tokens)
        }
        self.records['map'].append(record)
        return record

    def add_calibrated_sensor(self, scene_name: str, calib: SensorCalibration) -> str:
        token = self.tokens('calibrated_sensor', scene_name, calib.mount.channel)
        intrinsic = [] if calib.intrinsic is None else calib.intrinsic.tolist()
        self.records['calibrated_sensor'].append({
            'token':
            token,
            'sensor_token':
            self.sensor_token(calib.mount.channel),
            **calib.sensor_to_ego.record(), 'camera_intrinsic':
            intrinsic
        })
        return token

    def add_sample_data(self, token: str, sample_token: str, calibrated_sensor_token: str,
                        timestamp: int, fileformat: str, is_key_frame: bool, width: int,
                        height: int, filename: str, ego_pose: RigidTransform) -> dict:
        """Adds a sample_data record and its ego_pose (which shares its token, as in the
        release); ``prev``/``next`` are set later by :func:`link_chain`."""
        self.records['ego_pose'].append({
            'token': token,
            'timestamp': int(timestamp),
            **ego_pose.record()
        })
        record = {
            'token': token,
            'sample_token': sample_token,
            'ego_pose_token': token,
            'calibrated_sensor_token': calibrated_sensor_token,
            'timestamp': int(timestamp),
            'fileformat': fileformat,
            'is_key_frame': bool(is_key_frame),
            'height': int(height),
            'width': int(width),
            'filename': filename,
            'prev': '',
            'next': ''
        }
        self.records['sample_data'].append(record)
        return record

    def add_sample(self, token: str, timestamp: int, scene_token: str) -> dict:
        record = {
            'token': token,
            'timestamp': int(timestamp),
            'prev': '',
            'next': '',
            'scene_token': scene_token
        }
        self.records['sample'].append(record)
        return record

    def add_scene(self, token: str, log_token: str, samples: List[dict], name: str,
                  description: str) -> None:
        self.records['scene'].append({
            'token': token,
            'log_token': log_token,
            'nbr_samples': len(samples),
            'first_sample_token': samples[0]['token'],
            'last_sample_token': samples[-1]['token'],
            'name': name,
            'description': description
        })

    def add_annotation(self, token: str, sample_token: str, instance_token: str,
                       visibility_token: str, attribute: Optional[str], center: np.ndarray,
                       size_wlh: np.ndarray, rotation: np.ndarray, num_lidar_pts: int) -> dict:
        record = {
            'token': token,
            'sample_token': sample_token,
            'instance_token': instance_token,
            'visibility_token': visibility_token,
            'attribute_tokens': [self.attribute_token(attribute)] if attribute else [],
            'translation': [float(v) for v in center],
            'size': [float(v) for v in size_wlh],
            'rotation': [float(v) for v in rotation],
            'prev': '',
            'next': '',
            'num_lidar_pts': int(num_lidar_pts),
            'num_radar_pts': 0
        }
        self.records['sample_annotation'].append(record)
        return record

    def add_instance(self, token: str, category: str, annotations: List[dict]) -> None:
        """Adds an instance and chains its annotations."""
        link_chain(annotations)
        self.records['instance'].append({
            'token': token,
            'category_token': self.category_token(category),
            'nbr_annotations': len(annotations),
            'first_annotation_token': annotations[0]['token'],
            'last_annotation_token': annotations[-1]['token']
        })

    def write(self, table_root: Path) -> None:
        """Writes ``<table_root>/<table>.json`` for all 13 tables."""
        table_root.mkdir(parents=True, exist_ok=True)
        for name in TABLE_NAMES:
            with open(table_root / f'{name}.json', 'w') as f:
                json.dump(self.records[name], f, indent=1)
