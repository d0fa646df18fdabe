import torch
import torch.nn as nn


class Model(nn.Module):
    """Swish (SiLU), x * sigmoid(x), with the sigmoid written out."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1.0 / (1.0 + torch.exp(-x)))


batch_size = 1024
dim = 2048


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
