"""Exact Shapley values by enumerating every coalition.

phi_j = sum over S not containing j of |S|! (M-|S|-1)! / M! * (v(S + j) - v(S)),
with v the interventional game of `_game.py`. Cost: 2^M coalitions per row.
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np

from .._progress import progress
from ..errors import BudgetError, InputError
from ..maskers.text import TextMasker
from ..maskers.text_tokens import Text
from ..models.base import wrap
from ..results import Attribution
from ._additivity import NONDETERMINISTIC, additivity_meta
from ._base import ShapleyExplainer
from ._game import CoalitionGame

#: default most players ExactShapley enumerates (2^12 = 4096 coalitions per row)
MAX_PLAYERS = 12


def all_coalitions(m: int) -> np.ndarray:
    """(2^m, m) bool: row s is the coalition whose bits are set in s."""
    s = np.arange(1 << m, dtype=np.int64)
    return ((s[:, None] >> np.arange(m)) & 1).astype(bool)


def shapley_from_table(v: np.ndarray) -> np.ndarray:
    """Shapley values from a full table of coalition values v (2^m, outputs) -> (m, outputs)."""
    n_coal, k = v.shape
    m = n_coal.bit_length() - 1
    sizes = np.array([bin(s).count("1") for s in range(n_coal)])
    w = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    phi = np.zeros((m, k))
    idx = np.arange(n_coal)
    for j in range(m):
        without = idx[(idx >> j) & 1 == 0]
        phi[j] = (w[sizes[without]][:, None] * (v[without | (1 << j)] - v[without])).sum(axis=0)
    return phi


class ExactShapley(ShapleyExplainer):
    """Exact interventional Shapley values: all 2^M coalitions, batched.

    Texts: pass a text masker (`maskers.Text` or `maskers.TextMasker`) as `background`; each text's words are
    the players and a removed word is masked or deleted (v(S) = f(text with only the words in S)); `model`
    is then a function of a list of strings. Results are padded to the longest text with `mask`.

    Extra argument:
      max_players  refuse more players (table columns or words) than this (default 12); use KernelShap,
                   PermutationShap or PartitionShap beyond
    """

    method = "exact_shapley"

    def __init__(self, model: Any, background: Any, *, max_players: int = MAX_PLAYERS, **kwargs: Any) -> None:
        self.max_players = int(max_players)
        if isinstance(background, (Text, TextMasker)):
            unknown = set(kwargs) - {"output", "seed", "batch_size", "check_additivity"}
            if unknown:
                raise InputError(f"{sorted(unknown)} do not apply to texts; ExactShapley(model, text_masker) takes "
                                 "output=, seed=, batch_size= and check_additivity=")
            self.text_masker = background
            self.check_additivity = bool(kwargs.get("check_additivity", True))
            self.model = wrap(model, output=kwargs.get("output", "auto"), batch_size=kwargs.get("batch_size"))
            self.seed = int(kwargs.get("seed", 0))
            return
        self.text_masker = None
        super().__init__(model, background, **kwargs)
        if self.n_players > max_players:
            raise BudgetError(
                f"ExactShapley would evaluate 2^{self.n_players} = {2 ** self.n_players:,} coalitions per row "
                f"(x {self.masker.n_rows} background rows); that is above max_players={max_players}. Use "
                "whybox.shapley.KernelShap or PermutationShap (sampling, with a max_evals budget), group "
                "columns with groups=..., or raise max_players if you can afford it")
        self._masks = all_coalitions(self.n_players)

    def explain(self, X: Any, show_progress: bool | None = None, **budget: Any) -> Attribution:
        if self.text_masker is None:
            return super().explain(X, show_progress=show_progress, **budget)
        if budget:
            raise TypeError(f"ExactShapley.explain takes no budget, got {sorted(budget)}")
        texts = [X] if isinstance(X, str) else list(X)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InputError("explain takes a list of strings for a text masker")
        words = [self.text_masker.split(t) for t in texts]
        longest = max(len(w) for w in words)
        if longest > self.max_players:
            raise BudgetError(f"a text has {longest} words, so ExactShapley would evaluate 2^{longest} = "
                              f"{2 ** longest:,} versions of it; that is above max_players={self.max_players}. Use "
                              "whybox.shapley.PartitionShap for long texts, or raise max_players")
        before = self.model.n_evals
        # each text alone, as its coalitions are: the values add up to v(all words), evaluated separately,
        # so this call is the independent reference of the additivity check (and tells the outputs)
        fx = self.model.evaluate_each(texts, raw=True)
        k = fx.shape[1]
        values = np.zeros((len(texts), longest, k))
        base = np.zeros((len(texts), k))
        data = np.full((len(texts), longest), "", dtype=object)
        mask = np.zeros((len(texts), longest), dtype=bool)
        for i in progress(range(len(texts)), total=len(texts), desc=self.method, show=show_progress):
            m = len(words[i])
            v = self.model.evaluate_raw(self.text_masker.fill(texts[i], all_coalitions(m)))
            values[i, :m] = shapley_from_table(v)
            base[i] = v[0]
            data[i, :m], mask[i, :m] = words[i], True
        checked = additivity_meta(base + values.sum(axis=1), fx,
                                  method="ExactShapley (text)", reference_name=f"{self.model.kind} ({self.model.output})",
                                  causes=[NONDETERMINISTIC], check=self.check_additivity)
        if k == 1:
            values, base = values[..., 0], base[:, 0]
        meta = {"mode": "text", "model_evals": int(self.model.n_evals - before), "seed": self.seed, **checked,
                "samples_per_row": 2 ** longest, "output": self.model.output, "model": self.model.kind,
                "masker": repr(self.text_masker)}
        return Attribution(values=values, base_values=base, data=data, method=self.method, meta=meta,
                           output_names=self.model.output_names if k > 1 else None, has_outputs=k > 1, mask=mask)

    def _explain_row(self, game: CoalitionGame, fx: np.ndarray, base: np.ndarray,
                     rng: np.random.Generator, **budget: Any) -> np.ndarray:
        if budget:
            raise TypeError(f"ExactShapley.explain takes no budget, got {sorted(budget)}")
        v = np.empty((self._masks.shape[0], fx.shape[0]))
        v[0], v[-1] = base, fx
        if self._masks.shape[0] > 2:
            v[1:-1] = game(self._masks[1:-1])
        return shapley_from_table(v)
