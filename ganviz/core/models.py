"""MLP generator and discriminator (critic) for 1-D and 2-D toy targets."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """``layers`` hidden layers of width ``hidden`` with LeakyReLU(0.2), then a linear head.

    Parameters
    ----------
    n_in, n_out : int
        Input and output sizes.
    hidden : int
        Width of each hidden layer.
    layers : int
        Number of hidden layers (>= 1).
    """

    def __init__(self, n_in: int, n_out: int, hidden: int, layers: int) -> None:
        super().__init__()
        sizes = [n_in] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            # LeakyReLU keeps a gradient for every unit: no dead ReLUs in a toy net.
            x = torch.nn.functional.leaky_relu(layer(x), 0.2)
        return self.head(x)


def make_models(dim: int, z_dim: int, hidden: int, layers: int) -> tuple[MLP, MLP]:
    """Generator z (z_dim) -> x (dim) and discriminator x (dim) -> logit (1)."""
    return MLP(z_dim, dim, hidden, layers), MLP(dim, 1, hidden, layers)
