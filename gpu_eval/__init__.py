"""Isolated evaluation of candidate kernels against their reference.

Plain-data requests in, plain-data results out; every candidate runs in a
fresh child process. Imports neither sgs.core nor sgs.tui.
"""
from .cache import MemoryReferenceCache, reference_key
from .evaluator import Evaluator, evaluate, hardware_label, prestart
from .request import RequestError
from .supervisor import EvaluationAborted

__all__ = ["evaluate", "prestart", "Evaluator", "EvaluationAborted", "hardware_label", "MemoryReferenceCache", "reference_key",
           "RequestError"]
