"""Multi-view image loading that also sets up the camera geometry keys."""
from typing import Optional

from mmdet3d.datasets.transforms import LoadMultiViewImageFromFiles
from mmdet3d.registry import TRANSFORMS

from .geometry import init_multiview_geometry


@TRANSFORMS.register_module()
class LoadMultiViewImagesWithCalib(LoadMultiViewImageFromFiles):
    """mmdet3d's ``LoadMultiViewImageFromFiles`` plus the geometry keys of :mod:`.geometry`.

    The parent sets ``img`` (list of N HxWxC arrays), ``filename``, ``cam2img`` and
    ``lidar2cam`` (lists, as stored in the info file: 3x3 intrinsics and 4x4 extrinsics for
    nuScenes), ``ori_cam2img``, ``img_shape``/``ori_shape``/``pad_shape``, ``scale_factor``,
    ``img_norm_cfg``, ``num_views`` and ``num_ref_frames``, but no per-view ``lidar2img`` (the
    dataset may leave a single-camera one in the results). This subclass then stacks
    ``cam2img`` (padded to 4x4) and ``lidar2cam`` into (N, 4, 4) float32 arrays, resets
    ``img_aug_matrix`` to identity, keeps an earlier ``lidar_aug_matrix`` (identity if none)
    and computes ``lidar2img = cam2img @ lidar2cam @ inv(lidar_aug_matrix)``.

    Args: as for ``LoadMultiViewImageFromFiles`` (set ``num_views=6`` for nuScenes).

    Raises:
        ValueError: if the numbers of images, intrinsics and extrinsics differ, or a matrix
            is malformed; the message names the key.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the images and initialise the geometry keys.

        Args:
            results (dict): needs ``images`` (per-camera dicts with ``img_path``,
                ``cam2img`` and ``lidar2cam``), as built by mmdet3d's ``Det3DDataset``.

        Returns:
            dict: the updated results.
        """
        results = super().transform(results)
        if results is None:
            return None
        return init_multiview_geometry(results)
