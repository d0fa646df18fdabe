"""Shared reference and candidate sources for the gpu_eval tests."""

REFERENCE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 32)

    def forward(self, x):
        return torch.relu(self.lin(x))

def get_inputs():
    return [torch.rand(16, 64)]

def get_init_inputs():
    return []
'''


def candidate(forward_body: str, header: str = "") -> str:
    """A ModelNew with the reference's layer and a custom forward."""
    body = "\n".join("        " + ln for ln in forward_body.strip().splitlines())
    return f'''
import torch
import torch.nn as nn
{header}
class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 32)

    def forward(self, x):
{body}
'''


CORRECT = candidate("y = self.lin(x)\nreturn y.clamp_min(0)")
SEGFAULT = candidate("import ctypes\nctypes.string_at(0)\nreturn x")
HANG = candidate("while True:\n    pass")
RAISES = candidate("raise ValueError('boom in forward')")
WRONG_SHAPE = candidate("return torch.relu(self.lin(x))[:, :-1]")
ZERO_INPUTS = candidate("x.zero_()\nreturn torch.zeros(x.shape[0], 32)")
IMPORT_FAILS = "import torch\nraise ImportError('no such extension')\n"
SYNTAX_ERROR = "import torch\nclass ModelNew(:\n    pass\n"
