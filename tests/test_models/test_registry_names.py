"""The plugin registers no name that mmdet3d's ``projects/BEVFusion`` registers, so both can
be imported in one process (mmengine refuses a second registration of a name)."""
import inspect

from mmdet3d.registry import MODELS, TASK_UTILS, TRANSFORMS

# Every name projects/BEVFusion/bevfusion registers (mmdetection3d v1.4.0, its __init__.py,
# transforms_3d.py, depth_lss.py and utils.py).
UPSTREAM_BEVFUSION_NAMES = {
    'BEVFusion', 'BEVFusionSparseEncoder', 'BEVFusionGlobalRotScaleTrans', 'BEVFusionRandomFlip3D',
    'BEVLoadMultiViewImageFromFiles', 'BBoxBEVL1Cost', 'ConvFuser', 'DepthLSSTransform',
    'GeneralizedLSSFPN', 'GridMask', 'HeuristicAssigner3D', 'HungarianAssigner3D', 'ImageAug3D',
    'IoU3DCost', 'LSSTransform', 'TransFusionBBoxCoder', 'TransFusionHead',
    'TransformerDecoderLayer'
}


def plugin_registrations():
    import simdistill  # noqa: F401
    for registry in (MODELS, TASK_UTILS, TRANSFORMS):
        for name, cls in registry.module_dict.items():
            module = inspect.getmodule(cls)
            if module is not None and module.__name__.startswith('simdistill'):
                yield registry.name, name


def test_plugin_names_do_not_collide_with_mmdet3d_projects_bevfusion():
    names = dict((name, registry) for registry, name in plugin_registrations())
    assert {'BEVFusionDetector', 'BEVConvFuser', 'BEVTransFusionHead', 'LSSFPNNeck'} <= set(names)
    assert not set(names) & UPSTREAM_BEVFUSION_NAMES
