import torch
import torch.nn as nn


class Model(nn.Module):
    """Sum of squares of each row: (x * x).sum(dim=1)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * x).sum(dim=1)


batch_size = 512
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
