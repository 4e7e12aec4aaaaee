"""whybox: explain machine-learning models, and check that the explanation can be trusted."""

from .errors import BudgetError, InputError, ModelError, WhyboxError
from .results import Attribution, Importance

__version__ = "0.1.0"

__all__ = ["Attribution", "Importance", "WhyboxError", "InputError", "ModelError", "BudgetError", "__version__"]
