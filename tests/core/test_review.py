from sgs.core.review import reference_equivalent, review_flags

REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        """Applies ReLU."""
        return torch.relu(x)
'''


def test_same_forward_after_normalisation_is_equivalent():
    cand = REF.replace("class Model(", "class ModelNew(").replace('"""Applies ReLU."""', "# fast!")
    assert reference_equivalent(REF, cand)


def test_calling_the_reference_is_equivalent():
    cand = REF + '''
class ModelNew(Model):
    def forward(self, x):
        return super().forward(x)
'''
    assert reference_equivalent(REF, cand)
    inherits = REF + "\nclass ModelNew(Model):\n    pass\n"
    assert reference_equivalent(REF, inherits)


def test_a_real_rewrite_is_not_equivalent():
    cand = REF + '''
class ModelNew(nn.Module):
    def forward(self, x):
        return x.clamp_min(0)
'''
    assert not reference_equivalent(REF, cand)


def test_review_flags_added_only_to_correct_results():
    cand = REF + "\nclass ModelNew(Model):\n    pass\n"
    assert review_flags(REF, cand, {"outcome": "correct", "speedup": 1.0}) == ["reference_equivalent"]
    assert review_flags(REF, cand, {"outcome": "incorrect"}) == []
    assert "speedup_over_10x" in review_flags(REF, "x = 1", {"outcome": "correct", "speedup": 12.0})
    assert "not_robust" in review_flags(REF, "x = 1", {"outcome": "correct", "speedup": 1.0, "robust": False})
