"""Shapley values: exact enumeration, Kernel SHAP, permutation sampling, linear models."""

from .exact import ExactShapley

__all__ = ["ExactShapley"]
