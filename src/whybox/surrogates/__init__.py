"""Surrogates: simple, readable models fitted to imitate a black box."""

from .tree_surrogate import TreeSurrogate

__all__ = ["TreeSurrogate"]
