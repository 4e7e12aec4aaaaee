"""Shapley values: exact enumeration, Kernel SHAP, permutation sampling, linear models, Tree SHAP."""

from .exact import ExactShapley
from .kernel import KernelShap
from .linear import LinearShap
from .tree import TreeShap
from .permutation import PermutationShap

__all__ = ["ExactShapley", "KernelShap", "LinearShap", "TreeShap", "PermutationShap"]
from .partition import PartitionShap

__all__ += ["PartitionShap"]
