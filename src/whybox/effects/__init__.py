"""Global behaviour of a model: permutation importance, partial dependence / ICE, ALE, H-statistic."""

from .ale import accumulated_local_effects
from .h_statistic import h_statistic
from .partial_dependence import partial_dependence
from .permutation import permutation_importance

__all__ = ["accumulated_local_effects", "h_statistic", "partial_dependence", "permutation_importance"]
