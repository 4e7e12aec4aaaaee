"""`whybox.explain`: pick a sound Shapley method for a model and explain X with it.

Order of choice: Tree SHAP for tree ensembles (once available), LinearShap for models
that are affine in their inputs, ExactShapley for few features, otherwise KernelShap.
The choice and the reason are recorded in the result's `meta`, including why the methods
before it did not apply (a tree parser's refusal, LinearShap's error).
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import replace
from typing import Any

from .errors import InputError, ModelError
from .results import Attribution

#: ExactShapley is chosen up to this many players (2^10 = 1024 coalitions per row)
EXACT_UP_TO = 10

METHODS = {
    "exact": ("whybox.shapley.exact", "ExactShapley"),
    "kernel": ("whybox.shapley.kernel", "KernelShap"),
    "permutation": ("whybox.shapley.permutation", "PermutationShap"),
    "linear": ("whybox.shapley.linear", "LinearShap"),
    "tree": ("whybox.shapley.tree", "TreeShap"),
}


def _explainer_class(name: str) -> Any:
    module, cls = METHODS[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise InputError(f"method {name!r} is not available in this install ({e})") from e


def _looks_linear(model: Any) -> bool:
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(last, "coef_") and hasattr(last, "intercept_")


def _why_not_tree(model: Any) -> str | None:
    """None when Tree SHAP reads the model, else why not (recorded in the result's meta["choice_reason"]).

    The tree parsers' refusals are reasons; an unexpected failure while asking (a library call that raises)
    is also turned into a reason, but with a `UserWarning`, since it may hide a model Tree SHAP could read.
    """
    from .models.tree_parsers import why_not
    from .models.trees import TreeEnsemble
    if isinstance(model, TreeEnsemble):
        return None
    try:
        return why_not(model)
    except Exception as e:  # noqa: BLE001 - surfaced as a warning, and in meta, not swallowed
        reason = (f"checking whether Tree SHAP reads {type(model).__name__} failed: {type(e).__name__}: {e}")
        warnings.warn(f"{reason}; falling back to a model-agnostic method (pass method='tree' to see the error "
                      "raised)", UserWarning, stacklevel=3)
        return reason


def explain(model: Any, X: Any, background: Any = None, *, method: str = "auto", seed: int = 0,
            max_evals: int | None = None, tolerance: float | None = None, output: str = "auto",
            **kwargs: Any) -> Attribution:
    """Explain the rows of X with Shapley values, choosing the method unless `method` names one.

    Arguments:
      model       anything `whybox.models.wrap` accepts
      X           rows to explain (DataFrame or array)
      background  rows standing for "feature removed" (50-100 training rows is typical)
      method      "auto", "exact", "kernel", "permutation", "linear" or "tree"
      seed        randomness of the sampling methods
      max_evals   budget in coalitions for "kernel" / "permutation"
      tolerance   "kernel" / "permutation": stop each row once its largest standard error is at most this
      output      "auto", "probability", "log_odds", "raw", "predict". "auto" is the margin (log-odds) for
                  tree ensembles, as the tree libraries report it, and probability for other classifiers
      **kwargs    passed to the explainer (groups, summarize, batch_size, feature_names, ...)
    """
    if method != "auto" and method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose 'auto' or one of {sorted(METHODS)}")
    reason, explainer = f"asked for method={method!r}", None
    if method == "auto":
        method, reason, explainer = _choose(model, X, background, output, seed, kwargs)
    if method != "tree" and background is None:
        raise InputError(f"method {method!r} needs background rows to stand for removed features: pass "
                         "background=X_train.sample(100) or similar")
    if explainer is None:
        cls = _explainer_class(method)
        explainer = cls(model, background, output=output, **({"seed": seed} if method != "tree" else {}), **kwargs)
    sampling = method in ("kernel", "permutation")
    asked = {key: value for key, value in (("max_evals", max_evals), ("tolerance", tolerance)) if value is not None}
    attr = explainer.explain(X, **(asked if sampling else {}))
    meta = {**attr.meta, "chosen_method": method, "choice_reason": reason}
    if asked and not sampling:
        meta["ignored"] = (f"{', '.join(f'{k}={v}' for k, v in asked.items())}: {method} values are exact and "
                           "take no budget")
    return replace(attr, meta=meta)


def _choose(model: Any, X: Any, background: Any, output: str, seed: int, kwargs: dict) -> tuple[str, str, Any]:
    """The method for `model`, why, and the explainer if building it was the test."""
    not_tree = _why_not_tree(model)
    if not_tree is None:
        return "tree", "tree ensemble: exact Tree SHAP in polynomial time", None
    declined = [f"not Tree SHAP: {not_tree}"]
    if background is None:
        raise InputError("pass background=... (e.g. 50-100 training rows): model-agnostic Shapley values "
                         f"replace removed features by background values (Tree SHAP, which needs none, does not "
                         f"apply: {not_tree})")
    if _looks_linear(model) and output != "probability":
        try:
            linear = _explainer_class("linear")(model, background, output=output, seed=seed, **kwargs)
            return "linear", "the model is affine in its inputs: exact analytic values", linear
        except (InputError, ModelError) as e:
            declined.append(f"not LinearShap: {e}")
    from .models.base import wrap
    from .shapley._base import resolve_players
    m = wrap(model, output=output, feature_names=kwargs.get("feature_names"))
    m.bind(X)
    players = resolve_players(kwargs.get("groups"), m.feature_names)[0].shape[0]
    why = "; ".join(declined)
    if players <= EXACT_UP_TO:
        return "exact", f"{players} players <= {EXACT_UP_TO}: all 2^{players} coalitions are affordable ({why})", None
    return "kernel", f"{players} players > {EXACT_UP_TO}: sampling with Kernel SHAP ({why})", None
