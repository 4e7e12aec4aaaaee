"""Shapley values: exact enumeration, Kernel SHAP, permutation sampling, linear models."""

from .exact import ExactShapley
from .linear import LinearShap

__all__ = ["ExactShapley", "LinearShap"]
