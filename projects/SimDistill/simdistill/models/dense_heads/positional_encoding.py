"""Learned positional encoding of BEV positions (TransFusion's ``PositionEncodingLearned``)."""
from torch import Tensor, nn


class LearnedBEVPositionalEncoding(nn.Module):
    """Two 1x1 convs (BN + ReLU between) mapping a BEV position to an embedding.

    Same layers and names as upstream's ``PositionEncodingLearned`` (``position_embedding_head``:
    ``Conv1d``, ``BatchNorm1d``, ``ReLU``, ``Conv1d``), so its weights load unchanged.

    Args:
        embed_dims (int): embedding size ``D``.
        in_dims (int): position size. Defaults to 2 (``(x, y)`` in BEV cells).
    """

    def __init__(self, embed_dims: int, in_dims: int = 2) -> None:
        super().__init__()
        self.position_embedding_head = nn.Sequential(
            nn.Conv1d(in_dims, embed_dims, kernel_size=1), nn.BatchNorm1d(embed_dims),
            nn.ReLU(inplace=True), nn.Conv1d(embed_dims, embed_dims, kernel_size=1))

    def forward(self, pos: Tensor) -> Tensor:
        """Embeds positions.

        Args:
            pos (Tensor): ``(B, N, in_dims)`` positions (TransFusion: cell coordinates, not
                normalised).

        Returns:
            Tensor: ``(B, N, D)`` embeddings.
        """
        return self.position_embedding_head(pos.transpose(1, 2)).transpose(1, 2)
