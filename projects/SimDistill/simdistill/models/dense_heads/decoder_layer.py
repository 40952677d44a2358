"""TransFusion's decoder layer: DETR's, with learned position embeddings added to the values."""
from mmdet.models.layers import DetrTransformerDecoderLayer
from torch import Tensor

from .positional_encoding import LearnedBEVPositionalEncoding


class TransFusionDecoderLayer(DetrTransformerDecoderLayer):
    """Self-attention among the queries, cross-attention to the BEV map, FFN (post-norm).

    Unlike DETR's layer, the position embeddings (two learned MLPs of the raw BEV cell
    coordinates: ``self_posembed`` for the queries, ``cross_posembed`` for the BEV cells) are
    also added to the attention *values*, as TransFusion (and upstream's
    ``TransformerDecoderLayer``, whose submodule names this keeps) does; the residual path
    carries the query without them.

    Args:
        pos_dims (int): position size. Defaults to 2.
        **kwargs: of mmdet's ``DetrTransformerDecoderLayer`` (``self_attn_cfg``,
            ``cross_attn_cfg``, ``ffn_cfg``, ``norm_cfg``).
    """

    def __init__(self, pos_dims: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.self_posembed = LearnedBEVPositionalEncoding(self.embed_dims, pos_dims)
        self.cross_posembed = LearnedBEVPositionalEncoding(self.embed_dims, pos_dims)

    def forward(self, query: Tensor, key: Tensor, query_pos: Tensor,  # type: ignore[override]
                key_pos: Tensor) -> Tensor:
        """Refines the queries.

        Args:
            query (Tensor): ``(B, P, D)`` query features.
            key (Tensor): ``(B, N, D)`` flattened BEV features.
            query_pos (Tensor): ``(B, P, 2)`` query positions, cell coordinates.
            key_pos (Tensor): ``(B or 1, N, 2)`` BEV cell positions, cell coordinates.

        Returns:
            Tensor: ``(B, P, D)``.
        """
        query_embed = self.self_posembed(query_pos)
        key_embed = self.cross_posembed(key_pos).expand(key.shape[0], -1, -1)
        query = self.self_attn(
            query=query, key=query, value=query + query_embed, query_pos=query_embed,
            key_pos=query_embed)
        query = self.norms[0](query)
        query = self.cross_attn(
            query=query, key=key, value=key + key_embed, query_pos=query_embed,
            key_pos=key_embed)
        query = self.norms[1](query)
        return self.norms[2](self.ffn(query))
