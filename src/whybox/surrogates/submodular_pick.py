"""SP-LIME (Ribeiro et al. 2016, section 4): a few explanations that together cover the important features.

With W (rows, features) the explanation weights, the global importance of feature j is
I_j = sqrt(sum_i |W_ij|), and a set V of rows covers c(V) = sum_j 1[some i in V has W_ij != 0] I_j.
Rows are picked greedily, each adding the largest coverage gain; greedy is within 1 - 1/e of the
best set because c is submodular.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..results import Attribution

__all__ = ["SubmodularPick", "submodular_pick"]


@dataclass(frozen=True)
class SubmodularPick:
    """The rows SP-LIME picked.

    indices            picked row indices into X, in the order picked
    explanations       the picked rows' explanations (an Attribution, rows in pick order)
    coverage           c(V) of the picked rows
    coverage_fraction  c(V) / c(all rows): the share of the total importance they cover
    gains              coverage each pick added
    importance         (features,) I_j
    feature_names      names of the features (table columns, or the words of the texts)
    weights            (rows, features) the W matrix the pick was made from
    all_explanations   the explanations of every candidate row
    """

    indices: list[int]
    explanations: Attribution
    coverage: float
    coverage_fraction: float
    gains: list[float]
    importance: np.ndarray
    feature_names: list[str]
    weights: np.ndarray
    all_explanations: Attribution

    def __repr__(self) -> str:
        return (f"SubmodularPick(indices={self.indices}, coverage={self.coverage:.4g}, "
                f"coverage_fraction={self.coverage_fraction:.3f})")


def _weight_matrix(attr: Attribution, output: int | str | None) -> tuple[np.ndarray, list[str]]:
    """W (rows, features) for one output per row; text rows are mapped onto their vocabulary of words."""
    if attr.feature_ndim != 1:
        raise InputError("SP-LIME needs features shared across rows (table columns or words); image "
                         "superpixels differ from image to image")
    values = np.asarray(attr.values, dtype=float)
    n = values.shape[0]
    if attr.has_outputs:
        k = values.shape[-1]
        names = list(attr.output_names) if isinstance(attr.output_names, tuple) else None
        if output is None:  # each row's predicted output, as lime's SP uses each row's top label
            pred = attr.meta.get("model_prediction")
            pred = np.asarray(pred, dtype=float) if pred is not None else np.abs(values).sum(axis=1)
            pick = np.argmax(pred, axis=1)
        else:
            if isinstance(output, str):
                if names is None or output not in names:
                    raise InputError(f"unknown output {output!r}; the outputs are {names}")
                o = names.index(output)
            elif isinstance(output, (int, np.integer)) and -k <= output < k:
                o = int(output) % k
            else:
                raise InputError(f"output {output!r} is not one of the {k} outputs")
            pick = np.full(n, o)
        values = values[np.arange(n), :, pick]
    elif output not in (None, 0):
        raise InputError(f"output={output!r} given, but the explanations have a single output; leave it out")
    if attr.mask is None:
        names = list(attr.feature_names) if isinstance(attr.feature_names, tuple) else [
            str(j) for j in range(values.shape[1])]
        return values, names
    vocab: dict[str, int] = {}
    rows = []
    for i in range(n):
        row: dict[int, float] = {}
        for word, w, real in zip(attr.data[i], values[i], attr.mask[i]):
            if real:
                j = vocab.setdefault(str(word), len(vocab))
                row[j] = row.get(j, 0.0) + w
        rows.append(row)
    W = np.zeros((n, len(vocab)))
    for i, row in enumerate(rows):
        for j, w in row.items():
            W[i, j] = w
    return W, list(vocab)


def submodular_pick(explainer: Any, X: Any, budget: int = 5, num_samples: int = 5000,
                    output: int | str | None = None, **explain_kwargs: Any) -> SubmodularPick:
    """Explain the candidate rows X and pick `budget` of them that cover the important features.

    Arguments:
      explainer       e.g. a `Lime`, with `explain(X, num_samples=...)` -> Attribution over table columns or words
      X               candidate rows (or texts)
      budget          how many rows to pick (at most the number of candidates)
      num_samples     passed to `explain`
      output          which output's weights to use when there are several (default: each row's predicted one)
      explain_kwargs  further arguments for `explain`
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise InputError(f"budget must be a whole number >= 1 (rows to pick), got {budget!r}")
    attr = explainer.explain(X, num_samples=num_samples, **explain_kwargs)
    W, names = _weight_matrix(attr, output)
    n = W.shape[0]
    if budget > n:
        raise InputError(f"budget={budget} but X has only {n} candidate rows; pick at most {n}")
    importance = np.sqrt(np.abs(W).sum(axis=0))
    used = W != 0
    covered = np.zeros(W.shape[1], dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    for _ in range(int(budget)):
        gain = ((used & ~covered) * importance).sum(axis=1)
        gain[chosen] = -1.0
        i = int(np.argmax(gain))           # ties: the lowest row index
        chosen.append(i)
        gains.append(float(gain[i]))
        covered |= used[i]
    total = float(importance[used.any(axis=0)].sum())
    coverage = float(importance[covered].sum())
    return SubmodularPick(indices=chosen, explanations=attr[chosen], coverage=coverage,
                          coverage_fraction=coverage / total if total > 0 else 1.0, gains=gains,
                          importance=importance, feature_names=names, weights=W, all_explanations=attr)
