"""Query proposals: the top-k local maxima of a class heatmap."""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def heatmap_peaks(heatmap: Tensor, kernel_sizes: Sequence[int],
                  exclude_border: bool = False) -> Tensor:
    """Keeps the local maxima of each class heatmap and zeroes the rest.

    A cell is a local maximum of class ``k`` when no cell of class ``k`` within the
    ``kernel_sizes[k] x kernel_sizes[k]`` window centred on it scores higher (ties are all
    kept); kernel size 1 keeps every cell.

    Args:
        heatmap (Tensor): ``(B, K, H, W)`` scores (probabilities).
        kernel_sizes (Sequence[int]): odd window size per class, length ``K``.
        exclude_border (bool): also zero the outer ``kernel_size // 2`` rows and columns of a
            class with a window larger than 1, whose window would leave the map. TransFusion
            does this (its max-pool has no padding), so its published weights never propose
            those classes on the border.

    Returns:
        Tensor: ``(B, K, H, W)``, the heatmap where it is a local maximum and 0 elsewhere.
    """
    if len(kernel_sizes) != heatmap.shape[1]:
        raise ValueError(f'{len(kernel_sizes)} kernel sizes for a heatmap of '
                         f'{heatmap.shape[1]} classes')
    peaks = torch.zeros_like(heatmap)
    for size in sorted(set(kernel_sizes)):
        if size % 2 != 1:
            raise ValueError(f'NMS kernel sizes must be odd, got {size}')
        classes = [k for k, s in enumerate(kernel_sizes) if s == size]
        heat = heatmap[:, classes]
        if size == 1:
            peaks[:, classes] = heat
        else:
            local_max = F.max_pool2d(heat, kernel_size=size, stride=1, padding=size // 2)
            if exclude_border:
                pad = size // 2
                inner = torch.zeros_like(local_max)
                inner[..., pad:-pad, pad:-pad] = local_max[..., pad:-pad, pad:-pad]
                local_max = inner
            peaks[:, classes] = heat * (heat == local_max)
    return peaks


def topk_peaks(heatmap: Tensor, num_proposals: int, kernel_sizes: Sequence[int],
               exclude_border: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """Selects the ``num_proposals`` highest local maxima over all classes and cells.

    Args:
        heatmap (Tensor): ``(B, K, H, W)`` scores (probabilities).
        num_proposals (int): number of proposals ``P`` per sample, at most ``K * H * W``.
        kernel_sizes (Sequence[int]): odd NMS window per class (see :func:`heatmap_peaks`).
        exclude_border (bool): see :func:`heatmap_peaks`.

    Returns:
        tuple[Tensor, Tensor, Tensor]: per sample, in descending score order,

        - ``cell_index`` ``(B, P)`` long: flattened cell ``y * W + x``;
        - ``labels`` ``(B, P)`` long: the class whose peak it is;
        - ``scores`` ``(B, P)``: the peak's score.
    """
    batch, num_classes, height, width = heatmap.shape
    if num_proposals > num_classes * height * width:
        raise ValueError(f'num_proposals={num_proposals} exceeds the {num_classes}x{height}x'
                         f'{width} heatmap cells')
    peaks = heatmap_peaks(heatmap, kernel_sizes, exclude_border).reshape(batch, -1)
    scores, flat_index = peaks.topk(num_proposals, dim=1)
    labels = torch.div(flat_index, height * width, rounding_mode='floor')
    return flat_index % (height * width), labels, scores
