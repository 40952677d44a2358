"""Deployment of the camera-only student: a traceable graph, ONNX export, onnxruntime runner."""
from .graph import (DeployableCameraDetector, check_deployable, decode_head_outputs,
                    flatten_head_outputs, head_output_names, plan_inputs)
from .onnx import OPSET, ONNXCameraDetector, export_onnx, geometry_of

__all__ = [
    'DeployableCameraDetector', 'ONNXCameraDetector', 'OPSET', 'check_deployable',
    'decode_head_outputs', 'export_onnx', 'flatten_head_outputs', 'geometry_of',
    'head_output_names', 'plan_inputs'
]
