"""Learned positional encoding of BEV positions."""
from torch import Tensor, nn


class LearnedBEVPositionalEncoding(nn.Module):
    """An MLP mapping a normalised BEV position to an embedding.

    One module embeds both the query positions and the BEV cells, so that attention compares
    them in one space.

    Args:
        embed_dims (int): embedding size ``D``.
        in_dims (int): position size. Defaults to 2 (``(x, y)``).
    """

    def __init__(self, embed_dims: int, in_dims: int = 2) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dims, embed_dims), nn.ReLU(inplace=True),
            nn.Linear(embed_dims, embed_dims))

    def forward(self, pos: Tensor) -> Tensor:
        """Embeds positions.

        Args:
            pos (Tensor): ``(..., in_dims)`` positions, normalised to ``[0, 1]`` over the map.

        Returns:
            Tensor: ``(..., D)`` embeddings.
        """
        return self.mlp(pos)
