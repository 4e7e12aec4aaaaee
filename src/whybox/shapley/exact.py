"""Exact Shapley values by enumerating every coalition.

phi_j = sum over S not containing j of |S|! (M-|S|-1)! / M! * (v(S + j) - v(S)),
with v the interventional game of `_game.py`. Cost: 2^M coalitions per row.
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np

from ..errors import BudgetError
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

    Extra argument:
      max_players  refuse more players than this (default 12); use KernelShap or PermutationShap beyond
    """

    method = "exact_shapley"

    def __init__(self, model: Any, background: Any, *, max_players: int = MAX_PLAYERS, **kwargs: Any) -> None:
        super().__init__(model, background, **kwargs)
        if self.n_players > max_players:
            raise BudgetError(
                f"ExactShapley would evaluate 2^{self.n_players} = {2 ** self.n_players:,} coalitions per row "
                f"(x {self.masker.n_rows} background rows); that is above max_players={max_players}. Use "
                "whybox.shapley.KernelShap or PermutationShap (sampling, with a max_evals budget), group "
                "columns with groups=..., or raise max_players if you can afford it")
        self._masks = all_coalitions(self.n_players)

    def _explain_row(self, game: CoalitionGame, fx: np.ndarray, base: np.ndarray,
                     rng: np.random.Generator, **budget: Any) -> np.ndarray:
        if budget:
            raise TypeError(f"ExactShapley.explain takes no budget, got {sorted(budget)}")
        v = np.empty((self._masks.shape[0], fx.shape[0]))
        v[0], v[-1] = base, fx
        if self._masks.shape[0] > 2:
            v[1:-1] = game(self._masks[1:-1])
        return shapley_from_table(v)
