"""Permutation sampling: Shapley values as average marginal contributions along random orders.

For an order pi of the players, walking from the empty coalition to the full one adds one
player at a time; the value gained when player j joins is its marginal contribution, and the
gains of one walk add up to v(N) - v(empty) = f(x) - E[f] (a telescoping sum). The average over
walks is therefore additive by construction, whatever the number of walks.

The orders:
  * antithetic: every order is walked forwards and backwards (its reverse), which cancels the
    error of every interaction between two players;
  * position-balanced: orders are taken row by row from random Latin squares, so over M orders
    every player stands once in every position;
  * a coalition met by two walks is evaluated once: max_evals counts distinct coalitions (the
    empty and full ones are free), so revisited coalitions buy extra walks;
  * once max_evals covers all 2^M - 2 coalitions, every order is in effect walked: exact values.
The walks depend only on (players, budget, seed): they are built once per `explain`, and every
coalition of every walk is evaluated for a row in one batched call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Attribution
from ._base import ShapleyExplainer
from ._game import CoalitionGame
from .exact import all_coalitions, shapley_from_table
from .kernel import check_budget

__all__ = ["PermutationShap", "permutation_design"]

#: most walks drawn per coalition of budget before giving up on finding new coalitions
MAX_DRAWS_PER_EVAL = 50


def _latin_orders(m: int, rng: np.random.Generator):
    """Endless orders of range(m), M at a time from the rows of a random Latin square."""
    while True:
        rows, cols, symbols = rng.permutation(m), rng.permutation(m), rng.permutation(m)
        yield from symbols[(rows[:, None] + cols[None, :]) % m]


def permutation_design(m: int, max_evals: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Antithetic walks within max_evals distinct coalitions.

    Returns (masks (u, m) bool: the distinct coalitions to evaluate, orders (w, m): each walk's
    order of players, chain (w, m + 1): each walk's coalitions as indices into
    [empty, full, *masks]). Walks come in pairs: an order and its reverse.
    """
    index: dict[bytes, int] = {}
    masks: list[np.ndarray] = []
    orders: list[np.ndarray] = []
    chains: list[np.ndarray] = []
    draws = 0
    for order in _latin_orders(m, rng):
        draws += 1
        if draws > MAX_DRAWS_PER_EVAL * max_evals:
            break
        prefix = np.zeros((m - 1, m), dtype=bool)
        steps = np.tril(np.ones((m - 1, m), dtype=bool))                  # step t holds the first t + 1 of the order
        prefix[:, order] = steps
        halves = np.concatenate([prefix, ~prefix])
        keys = [h.tobytes() for h in np.packbits(halves, axis=1)]
        new = {key for key in keys if key not in index}
        if len(index) + len(new) > max_evals:
            break
        for key, h in zip(keys, halves):
            if key not in index:
                index[key] = 2 + len(masks)
                masks.append(h)
        ids = [index[key] for key in keys]
        forward = np.array([0, *ids[:m - 1], 1])
        backward = np.array([0, *ids[m - 1:][::-1], 1])                   # complements of the prefixes, reversed
        orders += [order, order[::-1]]
        chains += [forward, backward]
    masks_arr = np.array(masks) if masks else np.zeros((0, m), dtype=bool)
    return masks_arr, np.array(orders).reshape(-1, m), np.array(chains).reshape(-1, m + 1)


class PermutationShap(ShapleyExplainer):
    """Shapley values from antithetic, position-balanced permutation sampling; additive by construction.

    `explain(X, max_evals=...)`: max_evals counts distinct coalitions per row (the empty and full
    coalitions are free); one walk and its reverse take 2 (M - 1); default 2 M + 2048. From
    2^M - 2 on every coalition is evaluated and the values are exact.
    """

    method = "permutation_shap"

    def explain(self, X: Any, show_progress: bool | None = None, *, max_evals: int | None = None) -> Attribution:
        """Explain each row of X with at most max_evals coalitions per row; returns an `Attribution`."""
        m = self.n_players
        budget = check_budget(max_evals, m, "PermutationShap", least=2 * max(1, m - 1))
        self._plan = self._make_plan(budget)
        try:
            return super().explain(X, show_progress=show_progress, max_evals=budget)
        finally:
            self._plan = None

    def _make_plan(self, budget: int) -> dict:
        m = self.n_players
        if m == 1 or budget >= 2 ** m - 2:
            return {"masks": all_coalitions(m)[1:-1], "exact": True}
        rng = np.random.default_rng(self.seed)  # the same stream every row would get: rows stay independent
        masks, orders, chain = permutation_design(m, budget, rng)
        inverse = np.argsort(orders, axis=1)                               # where each player stands in each walk
        return {"masks": masks, "exact": False, "chain": chain, "inverse": inverse}

    def _explain_row(self, game: CoalitionGame, fx: np.ndarray, base: np.ndarray,
                     rng: np.random.Generator, **budget: Any) -> np.ndarray:
        plan = self._plan
        masks = plan["masks"]
        values = np.empty((2 + len(masks), fx.shape[0]))
        values[0], values[1] = base, fx
        if len(masks):
            values[2:] = game(masks)
        if plan["exact"]:
            table = np.concatenate([values[:1], values[2:], values[1:2]])   # all_coalitions order
            return shapley_from_table(table)
        walk = values[plan["chain"]]                                      # (walks, m + 1, k)
        gains = np.diff(walk, axis=1)                                     # (walks, m, k): gain at each step
        per_player = np.take_along_axis(gains, plan["inverse"][:, :, None], axis=1)
        return per_player.mean(axis=0)

    def _budget_meta(self, **budget: Any) -> dict:
        plan = getattr(self, "_plan", None) or {}
        meta = {"max_evals": int(budget.get("max_evals", 0)), "enumerated": bool(plan.get("exact", False))}
        if plan and not plan["exact"]:
            meta["permutations"] = int(len(plan["chain"]))
        return meta
