"""whybox: explain machine-learning models, and check that the explanation can be trusted."""

from .errors import BudgetError, InputError, ModelError, WhyboxError
from .results import Attribution, Importance, Interactions
from .auto import explain
from . import maskers, models, plots, shapley

__version__ = "0.1.0"

__all__ = ["explain", "maskers", "models", "plots", "shapley", "Attribution", "Importance", "Interactions", "WhyboxError", "InputError", "ModelError", "BudgetError", "__version__"]
