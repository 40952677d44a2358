"""ONNX export of a camera-only detector and an onnxruntime runner for it.

The graph (:class:`~.graph.DeployableCameraDetector`) is exported with opset
:data:`OPSET` (``GridSample`` needs 16, ``ScatterElements`` with ``reduction='add'`` 16) and a
dynamic batch size and plan length. Its metadata records what the graph was built for (views,
image size, feature size, depth bins, BEV grid, head maps); :class:`ONNXCameraDetector`
refuses inputs or a model config of another geometry before onnxruntime would fail obscurely.
"""
import contextlib
import hashlib
import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from ..ops.onnx_custom_ops import DOMAIN, DOMAIN_VERSION, export_custom_ops
from ..utils.atomic import atomic_path
from .graph import (PLAN_INPUTS, DeployableCameraDetector, check_deployable,
                    decode_head_outputs, head_output_names, plan_inputs)
from .onnxruntime_ops import session_options

OPSET = 17
METADATA_KEY = 'simdistill.geometry'


def geometry_of(model) -> dict:
    """What an exported graph is fixed to: views are free, everything else is baked in.

    Returns:
        dict: ``image_size`` (H, W), ``feature_size`` (h, w), ``depth_bins``, ``frustum_sha``
        (the frustum's bytes, float32), ``bev_grid`` (x/y/z bounds), ``bev_cell_rounding``
        (``'trunc'`` or ``'floor'``: how the plan inputs assign frustum points to cells, see
        :class:`~simdistill.structures.BEVGrid`), ``head_outputs``.
    """
    transform = model.view_transform
    frustum = transform.frustum.detach().cpu().float().contiguous().numpy()
    return dict(
        image_size=list(transform.image_size),
        feature_size=list(transform.feature_size),
        depth_bins=int(transform.num_depth_bins),
        frustum_sha=hashlib.sha1(frustum.tobytes()).hexdigest(),
        bev_grid=[list(transform.grid.xbound), list(transform.grid.ybound),
                  list(transform.grid.zbound)],
        bev_cell_rounding=transform.grid.index_rounding,
        head_outputs=head_output_names(model.bbox_head),
    )


def export_onnx(model, imgs: Tensor, cameras: Dict[str, Tensor], out: str,
                opset: int = OPSET, custom_ops: bool = False) -> dict:
    """Exports ``model`` (eval mode, CPU) to ``out``, written atomically.

    Args:
        model: a deployable camera-only model (:func:`~.graph.check_deployable`).
        imgs: ``(B, N, 3, H, W)`` preprocessed example images (traced once).
        cameras: their stacked camera matrices (``stack_camera_matrices``).
        out: path of the ``.onnx`` file.
        opset: ONNX opset (>= 16).
        custom_ops: write the BEV pool and the GCM's deformable attention as
            ``simdistill::BEVPool`` / ``simdistill::MSDeformAttn`` nodes (the compiled kernels;
            onnxruntime then needs :func:`~.onnxruntime_ops.library_path`'s library, which
            :class:`ONNXCameraDetector` registers) instead of stock ops.

    Returns:
        dict: the geometry written into the graph's metadata.
    """
    import onnx
    if opset < 16:
        raise ValueError(f'opset {opset} < 16: GridSample and ScatterElements(add) need 16')
    graph = DeployableCameraDetector(model, custom_ops).eval()  # checks it is deployable
    plan = plan_inputs(model, cameras)
    names = head_output_names(model.bbox_head)
    dynamic = {'imgs': {0: 'batch'}, **{name: {0: 'points'} for name in PLAN_INPUTS},
               **{name: {0: 'batch'} for name in names}}
    nodes = export_custom_ops() if custom_ops else contextlib.nullcontext()
    with atomic_path(out) as tmp, torch.no_grad(), nodes:
        torch.onnx.export(
            graph, (imgs, *(plan[name] for name in PLAN_INPUTS)), tmp,
            input_names=['imgs', *PLAN_INPUTS], output_names=names, dynamic_axes=dynamic,
            opset_version=opset, dynamo=False,
            custom_opsets={DOMAIN: DOMAIN_VERSION} if custom_ops else None)
        proto = onnx.load(tmp)
        geometry = geometry_of(model)
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(geometry)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
    return geometry


def uses_custom_ops(onnx_file: str) -> bool:
    """Whether the graph holds ``simdistill`` custom nodes (``export_onnx(custom_ops=True)``)."""
    import onnx
    proto = onnx.load(onnx_file, load_external_data=False)
    return any(entry.domain == DOMAIN for entry in proto.opset_import)


class ONNXCameraDetector:
    """Runs an exported graph in onnxruntime and decodes boxes like the PyTorch model.

    Args:
        onnx_file: the exported graph.
        model: the PyTorch model built from the same config; only its geometry (view transform
            frustum and grid: the plan) and its head's decoding are used, not its weights.

    Raises:
        ValueError: the config's geometry differs from the graph's (names both).
    """

    def __init__(self, onnx_file: str, model, providers: Optional[List[str]] = None) -> None:
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
        check_deployable(model)
        self.session = ort.InferenceSession(onnx_file,
                                            session_options(uses_custom_ops(onnx_file)),
                                            providers=providers or ['CPUExecutionProvider'])
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ValueError(f'{onnx_file} has no {METADATA_KEY!r} metadata: was it written by '
                             'tools/deployment/export_onnx.py?')
        self.geometry = json.loads(meta[METADATA_KEY])
        expected = geometry_of(model)
        diff = {k: (self.geometry.get(k), v) for k, v in expected.items()
                if self.geometry.get(k) != v}
        if diff:
            raise ValueError(f'{onnx_file} was exported for another geometry than this config: '
                             + '; '.join(f'{k}: graph {g} vs config {c}'
                                         for k, (g, c) in diff.items()))
        self.model = model
        self.onnx_file = onnx_file

    def run(self, imgs: Tensor, cameras: Dict[str, Tensor]) -> List[np.ndarray]:
        """Raw head maps (numpy, :func:`head_output_names` order) of preprocessed images."""
        H, W = self.geometry['image_size']
        if imgs.dim() != 5 or tuple(imgs.shape[2:]) != (3, H, W):
            raise ValueError(f'{self.onnx_file} takes images (B, N, 3, {H}, {W}), got '
                             f'{tuple(imgs.shape)}')
        if tuple(cameras['cam2img'].shape[:2]) != tuple(imgs.shape[:2]):
            raise ValueError(f'camera matrices for {tuple(cameras["cam2img"].shape[:2])} (B, N) '
                             f'but images {tuple(imgs.shape[:2])}')
        plan = plan_inputs(self.model, cameras)
        feeds = {'imgs': imgs.detach().cpu().float().numpy(),
                 **{name: plan[name].cpu().numpy() for name in PLAN_INPUTS}}
        return self.session.run(None, feeds)

    def predict(self, imgs: Tensor, cameras: Dict[str, Tensor],
                batch_input_metas: List[dict]) -> list:
        """Boxes per sample (``InstanceData``), decoded by :func:`decode_head_outputs`."""
        return decode_head_outputs(self.model.bbox_head, self.run(imgs, cameras),
                                   batch_input_metas)
