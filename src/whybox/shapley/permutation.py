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

Standard error: an order and its reverse form one draw (the antithetic pair), and with P pairs
SE = sd(pair means) / sqrt(P), widened to t(0.975, P - 1) / 1.96 so that value +- 1.96 SE is a 95%
interval even for a few pairs (infinite for one, or while every pair showed a player the same split
of the others). Pairs from different Latin squares are independent; within a square their balance
only lowers the error, so treating them as independent is slightly conservative. With `tolerance=t` a row walks in rounds (each a prefix of the same sequence
of walks) until its largest standard error is at most t or max_evals is spent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from ..results import Attribution
from ._base import ShapleyExplainer
from ._game import CoalitionGame
from ._jackknife import widen
from .exact import all_coalitions, shapley_from_table
from .kernel import check_budget, check_tolerance, schedule, stop_reason

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

    `explain(X, max_evals=..., tolerance=...)`: max_evals counts distinct coalitions per row (the empty
    and full coalitions are free); one walk and its reverse take 2 (M - 1); default 2 M + 2048. From
    2^M - 2 on every coalition is evaluated and the values are exact (standard error 0). tolerance:
    walk in rounds (the first of 4 pairs of walks, each next one 1.5 times larger) and stop a row once
    its largest standard error is at most this; meta["stopped"] says why each row stopped.
    """

    method = "permutation_shap"

    def explain(self, X: Any, show_progress: bool | None = None, *, max_evals: int | None = None,
                tolerance: float | None = None) -> Attribution:
        """Explain each row of X with at most max_evals coalitions per row; returns an `Attribution`."""
        m = self.n_players
        least = 2 * max(1, m - 1)
        budget = check_budget(max_evals, m, "PermutationShap", least=least)
        tol = check_tolerance(tolerance)
        arr = self.model.prepare(X)
        n = arr.shape[0]
        plan = self._make_plan(budget)
        if plan["exact"]:
            steps = [(0, len(plan["masks"]))]
            sampled = [b for b in schedule(4 * least, budget, m) if b < 2 ** m - 2] if tol is not None else []
            if sampled:  # walk in rounds first; enumerate everything only if that is not precise enough
                plan = self._make_plan(sampled[-1])
                steps = _rounds(plan["chain"], sampled) + [(-1, 2 ** m - 2)]
        else:
            steps = _rounds(plan["chain"], schedule(4 * least, budget, m) if tol is not None else [budget])
        masks = plan["masks"]
        evals_before = self.model.n_evals
        base = self.expected_value
        k = len(base)
        values, se, fx = np.zeros((n, m, k)), np.zeros((n, m, k)), np.zeros((n, k))
        stopped, used, dofs = [""] * n, [0] * n, [None] * n
        fx[:] = self.model.evaluate_each(arr)                    # a row's values never depend on its batch
        for i in progress(range(n), total=n, desc=self.method, show=show_progress):
            game = CoalitionGame(self.model, self.masker, arr[i], self.players)
            table = np.empty((2 + len(masks), k))
            table[0], table[1] = base, fx[i]
            done = 0
            for r, (walks, upto) in enumerate(steps):
                if walks < 0:                                              # the rest of the coalitions
                    values[i], done = _enumerate_rest(game, masks[:done], table[:2 + done]), upto
                    se[i], dof = 0.0, np.inf
                elif plan["exact"]:
                    table[2:] = game(masks)
                    values[i], done = shapley_from_table(np.concatenate([table[:1], table[2:], table[1:2]])), upto
                    se[i], dof = 0.0, np.inf
                else:
                    if upto > done:
                        table[2 + done:2 + upto] = game(masks[done:upto])
                        done = upto
                    values[i], se[i], dof = _walk_estimate(table, plan["chain"][:walks], plan["inverse"][:walks])
                used[i] = done
                dofs[i] = float(dof) if np.isfinite(dof) else None
                stopped[i] = stop_reason(plan["exact"] or walks < 0, se[i], tol, r == len(steps) - 1)
                if stopped[i]:
                    break
        meta: dict = {"max_evals": budget, "enumerated": bool(n) and all(s == "enumerated" for s in stopped),
                      "tolerance": tol, "stopped": stopped, "coalitions": used, "standard_error_dof": dofs,
                      "standard_error": "sd of the antithetic pairs' means / sqrt(pairs), widened to "
                                        "t(0.975, pairs - 1) / 1.96",
                      "per_row": ["stopped", "coalitions", "standard_error_dof"]}
        if not plan["exact"]:
            meta["permutations"] = int(max(steps[-1][0], 0))
            if tol is not None:
                meta["rounds"] = [int(u) for _, u in steps]
        return self._result(arr, values, fx, max(used, default=0), self.model.n_evals - evals_before, meta,
                            standard_error=se)

    def _make_plan(self, budget: int) -> dict:
        m = self.n_players
        if m == 1 or budget >= 2 ** m - 2:
            return {"masks": all_coalitions(m)[1:-1], "exact": True}
        rng = np.random.default_rng(self.seed)  # the same stream every row would get: rows stay independent
        masks, orders, chain = permutation_design(m, budget, rng)
        inverse = np.argsort(orders, axis=1)                               # where each player stands in each walk
        return {"masks": masks, "exact": False, "chain": chain, "inverse": inverse}

    def _budget_meta(self, **meta: Any) -> dict:
        return meta


def _enumerate_rest(game: CoalitionGame, masks: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Exact Shapley values from the coalitions evaluated so far (known: [empty, full, *masks]) and the rest."""
    m = masks.shape[1]
    table = np.empty((2 ** m, known.shape[1]))
    table[0], table[-1] = known[0], known[1]
    have = np.zeros(2 ** m, dtype=bool)
    have[[0, -1]] = True
    keys = masks.astype(np.int64) @ (1 << np.arange(m))
    table[keys], have[keys] = known[2:], True
    rest = np.flatnonzero(~have)
    table[rest] = game(all_coalitions(m)[rest])
    return shapley_from_table(table)


def _rounds(chain: np.ndarray, budgets: list[int]) -> list[tuple[int, int]]:
    """(walks, coalitions) of each round: the longest prefix of pairs of walks within its budget."""
    distinct = np.maximum.accumulate(chain.max(axis=1))[1::2] - 1          # coalitions after each pair of walks
    out: list[tuple[int, int]] = []
    for b in budgets:
        pairs = max(1, int(np.searchsorted(distinct, b, side="right")))
        step = (2 * pairs, int(distinct[pairs - 1]))
        if not out or step[0] > out[-1][0]:
            out.append(step)
    return out


def _walk_estimate(table: np.ndarray, chain: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean marginal contributions over the walks (m, k), their standard error (m, k) and its degrees of freedom.

    A player's draw in a pair of walks is the split {S, N - S - j} of the others it sees; while all of
    its pairs saw one split, nothing is known of its spread and the standard error is infinite.
    """
    gains = np.diff(table[chain], axis=1)                                # (walks, m, k): gain at each step
    per_player = np.take_along_axis(gains, inverse[:, :, None], axis=1)
    pairs = per_player.reshape(-1, 2, *per_player.shape[1:]).mean(axis=1)  # (pairs, m, k)
    p, m = pairs.shape[:2]
    before = np.take_along_axis(chain[:, :-1], inverse, axis=1)          # (walks, m): the coalition j joins
    split = np.sort(before.reshape(-1, 2, m), axis=1)                    # the pair's {S, N - S - j}
    one_split = (split == split[:1]).all(axis=(0, 1))                    # (m,)
    if p < 2:
        return per_player.mean(axis=0), np.full(pairs.shape[1:], np.inf), 0.0
    se = widen(pairs.var(axis=0, ddof=1) / p, np.full(pairs.shape[1:], p - 1.0))
    se[one_split] = np.inf
    return per_player.mean(axis=0), se, p - 1.0
