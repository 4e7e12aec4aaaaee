"""whybox: explain machine-learning models, and check that the explanation can be trusted."""

from .errors import AdditivityError, BudgetError, InputError, ModelError, WhyboxError
from .results import Attribution, Counterfactuals, Dependence, Importance, Interactions, Rule
from .auto import explain
from . import report
from . import counterfactuals, effects, evaluate, maskers, models, plots, shapley, surrogates

__version__ = "0.1.0"

__all__ = ["explain", "counterfactuals", "effects", "evaluate", "maskers", "models", "plots", "report", "shapley", "surrogates", "Attribution", "Counterfactuals", "Dependence",
           "Importance", "Interactions", "Rule", "WhyboxError", "AdditivityError", "InputError", "ModelError", "BudgetError", "__version__"]
