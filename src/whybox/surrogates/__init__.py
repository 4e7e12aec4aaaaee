"""Surrogates: simple, readable models fitted to imitate a black box."""

from .tree_surrogate import TreeSurrogate

__all__ = ["TreeSurrogate"]

from .lime import Lime
from .stability import Stability, stability
from .submodular_pick import SubmodularPick, submodular_pick

__all__ += ["Lime", "Stability", "stability", "SubmodularPick", "submodular_pick"]

from .anchors import Anchors

__all__ += ["Anchors"]
