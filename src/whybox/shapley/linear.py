"""Shapley values of a linear model, analytically.

For f(x) = w.x + b with independent (interventional) removal, phi_j = w_j (x_j - E[x_j]),
E over the background. A logistic model is linear in its log-odds, so it is explained
there (output "raw" / "log_odds"), not in probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, ModelError
from ._base import ShapleyExplainer


def _is_classifier(model: Any) -> bool:
    return hasattr(model, "classes_") or hasattr(getattr(model, "steps", [[None, None]])[-1][1], "classes_")


class LinearShap(ShapleyExplainer):
    """Exact interventional Shapley values of a model that is affine in its inputs (in the chosen output).

    The weights are read off the model by evaluating it at the background mean and at unit steps
    (exact for an affine function), then checked against the model on the background rows, so
    pipelines of scalers and a linear model work and a non-linear model is refused.

    Arguments: as every Shapley explainer (model, background, groups, output, ...); for a classifier
    the default output is its margin ("raw"), the space in which it is linear.
    """

    method = "linear_shap"

    def __init__(self, model: Any, background: Any, *, output: str = "auto", tolerance: float = 1e-6,
                 **kwargs: Any) -> None:
        if output == "probability":
            raise InputError("LinearShap explains the linear margin; a classifier's probability is not linear in "
                             "its inputs. Use output='log_odds' (or 'raw'), or KernelShap for probabilities")
        if output == "auto" and _is_classifier(model):
            output = "raw" if hasattr(model, "decision_function") else "log_odds"
        super().__init__(model, background, output=output, **kwargs)
        if not self.model.schema.numeric:
            raise InputError("LinearShap needs numeric columns; this data has categorical columns "
                             f"{sorted(self.model.schema.categories)}. Use KernelShap or ExactShapley")
        bg = self.masker.data.astype(float)
        if np.isnan(bg).any():
            raise InputError("LinearShap needs a background without missing values; impute them first")
        self.mean = self.masker.weights @ bg  # (features,)
        m = bg.shape[1]
        probe = np.vstack([self.mean, self.mean + np.eye(m)])
        f = self.model.evaluate(probe)
        self.weights = f[1:] - f[:1]          # (features, outputs)
        self.intercept = f[0] - self.mean @ self.weights
        predicted = bg @ self.weights + self.intercept
        actual = self.background_output
        scale = max(1.0, float(np.abs(actual).max()))
        gap = float(np.abs(predicted - actual).max())
        if gap > tolerance * scale:
            raise ModelError(f"the model is not linear in its inputs (output {self.model.output!r}): an affine "
                             f"fit misses it by {gap:.3g} on the background. Use KernelShap, PermutationShap or "
                             "ExactShapley for non-linear models")
        self.expected_value = self.mean @ self.weights + self.intercept

    def explain(self, X: Any, show_progress: bool | None = None, **budget: Any) -> "Attribution":  # noqa: F821
        """phi_j = w_j (x_j - E[x_j]) for every row, summed within groups."""
        if budget:
            raise TypeError(f"LinearShap.explain takes no budget, got {sorted(budget)}")
        arr = self.model.prepare(X)
        before = self.model.n_evals
        fx = self.model.evaluate(arr)
        per_column = (arr.astype(float) - self.mean)[:, :, None] * self.weights[None, :, :]
        values = np.einsum("nmk,pm->npk", per_column, self.players.astype(float))
        return self._result(arr, values, fx, samples=0, rows=self.model.n_evals - before, budget={})
