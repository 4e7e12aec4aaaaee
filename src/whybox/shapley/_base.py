"""What every model-agnostic Shapley explainer shares: wrapping, background, players, the result.

A subclass implements `_explain_row(game, fx, base, rng, **budget) -> (players, outputs)`
and the base class does the rest: validates X, evaluates f(x) and E[f], loops over
rows with a progress bar, and builds an `Attribution` whose values add up to the
model output.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .._progress import progress
from ..errors import InputError
from ..maskers.tabular import TabularMasker
from ..models.base import Model, wrap
from ..results import Attribution
from ._additivity import NONDETERMINISTIC, additivity_meta
from ._game import CoalitionGame

Groups = Mapping[str, Sequence[str]] | Sequence[Sequence[str]] | None


def resolve_players(groups: Groups, names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """Players from feature groups: returns ((players, features) bool, player names, grouped?).

    `groups` maps a name to its columns (or is a list of column lists, named by joining).
    Columns in no group become players of their own; a column in two groups is an error.
    """
    names = list(names)
    if groups is None:
        return np.eye(len(names), dtype=bool), tuple(names), False
    items = list(groups.items()) if isinstance(groups, Mapping) else [("+".join(g), g) for g in groups]
    owner: dict[str, str] = {}
    rows, pnames = [], []
    for gname, cols in items:
        if isinstance(cols, str):
            cols = [cols]
        row = np.zeros(len(names), dtype=bool)
        for c in cols:
            c = str(c)
            if c not in names:
                raise InputError(f"group {gname!r} names unknown column {c!r}; known columns: {names}")
            if c in owner:
                raise InputError(f"column {c!r} is in two groups ({owner[c]!r} and {gname!r}); "
                                 "each column may belong to one group")
            owner[c] = gname
            row[names.index(c)] = True
        if not row.any():
            raise InputError(f"group {gname!r} is empty; give it at least one column")
        rows.append(row)
        pnames.append(str(gname))
    for j, c in enumerate(names):
        if c not in owner:
            row = np.zeros(len(names), dtype=bool)
            row[j] = True
            rows.append(row)
            pnames.append(c)
    return np.array(rows), tuple(pnames), True


class ShapleyExplainer:
    """Base of the model-agnostic Shapley explainers (exact, kernel, permutation).

    Arguments:
      model        anything `whybox.models.wrap` accepts
      background   rows standing for "feature removed" (DataFrame/array) or a `TabularMasker`
      groups       {name: [columns]} to treat a group of columns as one player
      output       the output space: "auto", "probability", "log_odds", "raw", "predict"
      seed         the only source of randomness: same seed, same explanation
      summarize    replace a large background by this many weighted k-means rows
      batch_size   most rows per model call
      check_additivity  True (default): call the model once more on the explained rows and raise
                   `AdditivityError` when base_values + values.sum(features) misses that output; False: only
                   record the gap in meta["additivity_gap"]
    """

    method = "shapley"

    def __init__(self, model: Any, background: Any, *, groups: Groups = None, output: str = "auto",
                 seed: int = 0, summarize: int | None = None, batch_size: int | None = None,
                 feature_names: Sequence[str] | None = None, check_additivity: bool = True) -> None:
        self.check_additivity = bool(check_additivity)
        self.model: Model = wrap(model, output=output, batch_size=batch_size, feature_names=feature_names)
        if isinstance(background, TabularMasker):
            self.masker = background
        else:
            self.masker = TabularMasker(background, summarize=summarize, seed=seed)
        self.masker.bind(self.model)
        self.seed = int(seed)
        self.groups = groups
        self.players, self.player_names, self.grouped = resolve_players(groups, self.model.feature_names)
        self.background_output = self.model.evaluate(self.masker.data)  # (background rows, outputs)
        self.expected_value = self.masker.weights @ self.background_output  # (outputs,)

    @property
    def n_players(self) -> int:
        return self.players.shape[0]

    def _explain_row(self, game: CoalitionGame, fx: np.ndarray, base: np.ndarray,
                     rng: np.random.Generator, **budget: Any) -> np.ndarray:
        raise NotImplementedError

    def _budget_meta(self, **budget: Any) -> dict:
        return {}

    def explain(self, X: Any, show_progress: bool | None = None, **budget: Any) -> Attribution:
        """Explain each row of X; returns an `Attribution` with base_values + values.sum == f(x)."""
        arr = self.model.prepare(X)
        n = arr.shape[0]
        evals_before = self.model.n_evals
        fx = self.model.evaluate(arr)
        base = self.expected_value
        k = fx.shape[1]
        values = np.empty((n, self.n_players, k))
        samples = 0
        for i in progress(range(n), total=n, desc=self.method, show=show_progress):
            game = CoalitionGame(self.model, self.masker, arr[i], self.players)
            rng = np.random.default_rng(self.seed)  # every row sees the same stream: rows stay independent
            values[i] = self._explain_row(game, fx[i], base, rng, **budget)
            samples = max(samples, game.n_coalitions)
        return self._result(arr, values, fx, samples, self.model.n_evals - evals_before, budget)

    def _result(self, arr: np.ndarray, values: np.ndarray, fx: np.ndarray, samples: int, rows: int,
                budget: dict, standard_error: np.ndarray | None = None) -> Attribution:
        n, k = fx.shape
        base = np.repeat(self.expected_value[None, :], n, axis=0)
        reference = self.model.evaluate(arr)  # asked again: the values add up to fx by construction
        checked = additivity_meta(base + values.sum(axis=1), reference, method=type(self).__name__,
                                  reference_name=f"{self.model.kind} ({self.model.output})",
                                  causes=[NONDETERMINISTIC], check=self.check_additivity)
        meta = {"samples_per_row": int(samples), "model_evals": int(rows + n),
                "background_rows": int(self.masker.n_rows), "seed": self.seed, "output": self.model.output,
                "model": self.model.kind, **checked, **self._budget_meta(**budget)}
        if self.grouped:
            meta["groups"] = {p: [c for c, on in zip(self.model.feature_names, row) if on]
                              for p, row in zip(self.player_names, self.players)}
        onames = self.model.output_names
        if k == 1:
            values, base = values[..., 0], base[:, 0]
            standard_error = None if standard_error is None else standard_error[..., 0]
            onames = None
        return Attribution(values=values, base_values=base, data=None if self.grouped else arr,
                           feature_names=self.player_names, output_names=onames, method=self.method,
                           meta=meta, has_outputs=k > 1, standard_error=standard_error)
