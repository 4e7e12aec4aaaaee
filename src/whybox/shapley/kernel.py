"""Kernel SHAP: Shapley values as a weighted least-squares fit over sampled coalitions.

The coalitions (the design):
  * they come in complementary pairs S, N \\ S (paired sampling: exact for games whose
    interactions are at most pairwise, so only higher-order interactions cost accuracy);
  * coalition sizes are strata; the smallest and largest sizes are enumerated whole,
    pair of strata by pair of strata, while the budget allows;
  * the rest of the budget is drawn without replacement from the remaining sizes, stratified
    by size: half of the pairs spread over the sizes as the Shapley kernel weighs them, half
    uniformly over the remaining coalitions (plain Kernel SHAP: all as the kernel weighs them);
    in the regression a stratum's share of the Shapley kernel goes, split evenly, to the
    coalitions drawn from it (kernel weight over inclusion probability);
  * the design depends only on (players, budget, seed), so it is built once per `explain`.

The estimate (`adjusted=True`, the default) is Kernel SHAP with regression adjustment:
  1. a surrogate game g is fitted to the sampled values: a Gaussian process on the
     coalitions whose prior gives every interaction (Harsanyi dividend) of order k a variance
     rho^k (the kernel K(S, T) = (1 + rho)^|S & T| - 1), optionally with main effects and
     pairs boosted far above the rest (near-pairwise games), plus a nugget; the prior is
     chosen for each explained row by marginal likelihood from a grid of 10 (`PRIORS`);
  2. the Shapley values of g follow in closed form (a Harsanyi dividend of order k is split
     evenly among its k players): phi_g = E[phi | data] under that prior;
  3. the Shapley values of what g misses, v - g, are estimated by the Kernel SHAP
     regression itself (the efficiency constraint sum(phi) = f(x) - E[f] solved exactly).
  phi = phi_g + KernelSHAP(v - g). Whatever g is, the result is exactly the Shapley value
  once every coalition is enumerated; g only removes variance when sampling. The prior is
  chosen on at most SELECT_MAX coalitions and g fitted to at most GP_MAX; below ADJUST_FROM
  coalitions per player there is too little to choose a prior and the plain regression is used.
`adjusted=False` is the plain (paired, stratified) Kernel SHAP regression with the
budget spread over sizes in proportion to the Shapley kernel.

Ideas from the literature, combined here: Kernel SHAP (Lundberg & Lee 2017) and its paired
sampling (Covert & Lee 2021); sampling without replacement with corrected weights (Olsen &
Jullum 2024); regression adjustment of Shapley estimators (Witter et al. 2025); interaction
terms in the regression (k-additive Kernel SHAP, Pelegrina et al. 2023), here all orders at once
through the kernel of a Gaussian process.

Given the chosen prior every step is linear in the sampled values, so a model with several
outputs is solved with one design and one choice per row for all of its outputs.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from .._progress import progress
from ..errors import BudgetError
from ..results import Attribution
from ._base import ShapleyExplainer
from ._game import CoalitionGame
from ._surrogate import Surrogate, grid, one_blas_thread

__all__ = ["KernelShap", "coalition_design", "kernel_regression", "default_budget"]

#: below this many coalitions per player the surrogate is not fitted (too few to choose its prior)
ADJUST_FROM = 4
#: the surrogate is fitted to at most this many coalitions (a random subset beyond it)
GP_MAX = 2560
#: the prior is chosen on at most this many of them
SELECT_MAX = 512
#: most sampled values (rows x coalitions x outputs) held at once while solving
CHUNK_VALUES = 1 << 23


def default_budget(n_players: int) -> int:
    """Coalitions per row when `max_evals` is not given: 2 M + 2048 (as shap's nsamples="auto")."""
    return 2 * n_players + 2048


def check_budget(max_evals: Any, n_players: int, method: str, least: int = 2) -> int:
    """`max_evals` as an int, or a `BudgetError` that says what is needed."""
    if max_evals is None:
        return default_budget(n_players)
    try:
        value = int(max_evals)
    except (TypeError, ValueError):
        raise BudgetError(f"max_evals must be a whole number of coalitions, got {max_evals!r}") from None
    if value != max_evals:
        raise BudgetError(f"max_evals must be a whole number of coalitions, got {max_evals!r}")
    if value < least:
        raise BudgetError(
            f"max_evals={value} is too small for {method}: it needs at least {least} coalitions per row "
            f"and is useful from about {2 * n_players + 2} for {n_players} players; "
            f"{default_budget(n_players)} is the default")
    return value


# --------------------------------------------------------------------------- coalitions

def _unrank(m: int, s: int, idx: np.ndarray) -> np.ndarray:
    """The s-subsets of range(m) with colex ranks idx -> (len(idx), m) bool."""
    table = np.array([[comb(c, k) for k in range(s + 1)] for c in range(m)], dtype=np.int64)
    x = np.asarray(idx, dtype=np.int64).copy()
    k = np.full(x.shape, s, dtype=np.int64)
    out = np.zeros((x.size, m), dtype=bool)
    for c in range(m - 1, -1, -1):
        t = table[c, k]
        take = (k > 0) & (t <= x)
        x -= np.where(take, t, 0)
        k -= take
        out[:, c] = take
    return out


def _subsets(m: int, s: int, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """n distinct s-subsets of range(m): all of them in rank order if rng is None, else drawn uniformly."""
    total = comb(m, s)
    if rng is None:
        return _unrank(m, s, np.arange(total))
    if total < 2 ** 62:
        return _unrank(m, s, rng.choice(total, size=n, replace=False))
    seen: dict[bytes, np.ndarray] = {}
    while len(seen) < n:  # astronomically many subsets: draw and drop the (rare) repeats
        order = np.argsort(rng.random((n, m)), axis=1)[:, :s]
        rows = np.zeros((n, m), dtype=bool)
        np.put_along_axis(rows, order, True, axis=1)
        for r in rows:
            seen.setdefault(np.packbits(r).tobytes(), r)
    return np.array(list(seen.values())[:n])


def _stratum_pairs(m: int, s: int) -> int:
    """Complementary pairs in the stratum of sizes {s, m - s}."""
    return comb(m, s) // 2 if 2 * s == m else comb(m, s)


def _allocate(shares: np.ndarray, caps: list[int], total: int) -> list[int]:
    """Whole numbers proportional to shares, at most caps, at least one each while total allows."""
    n = len(caps)
    total = min(total, sum(caps))
    out = [0] * n
    if total <= 0 or n == 0:
        return out
    if total >= n:
        out = [1] * n
        total -= n
    free = [i for i in range(n) if out[i] < caps[i]]
    while total > 0 and free:
        w = np.array([shares[i] for i in free], dtype=float)
        x = total * w / w.sum()
        full = [i for i, xi in zip(free, x) if out[i] + xi >= caps[i]]
        if full:
            for i in full:
                total -= caps[i] - out[i]
                out[i] = caps[i]
            free = [i for i in free if i not in full]
            continue
        base = np.floor(x).astype(int)
        for i, b in zip(free, base):
            out[i] += int(b)
        left = total - int(base.sum())
        for j in np.argsort(-(x - base), kind="stable")[:left]:
            out[free[j]] += 1
        total = 0
    return out


def _shares(m: int, strata: list[int], allocation: str) -> np.ndarray:
    """How the sampled pairs are spread over the strata {s, m - s}."""
    kernel = np.array([(1.0 if 2 * s == m else 2.0) / (s * (m - s)) for s in strata])
    count = np.array([float(_stratum_pairs(m, s)) for s in strata])
    if allocation == "kernel":
        return kernel
    if allocation == "mix":
        return kernel / kernel.sum() + count / count.sum()
    return count


def coalition_design(m: int, max_evals: int, rng: np.random.Generator,
                     allocation: str = "mix") -> tuple[np.ndarray, bool]:
    """Paired coalitions for m players within max_evals: ((n, m) bool masks, everything enumerated?).

    Whole size strata {s, m-s} are enumerated from the outside in while they fit; the rest of
    the budget is drawn, in complementary pairs and without replacement, from the remaining
    strata: in proportion to their share of the Shapley kernel (allocation="kernel"), to their
    number of coalitions ("uniform": every remaining coalition equally likely) or half and half
    ("mix"), with at least one pair per stratum while the budget allows.
    """
    strata = list(range(1, m // 2 + 1))
    parts: list[np.ndarray] = []
    left = max_evals
    k = 0
    while k < len(strata) and 2 * _stratum_pairs(m, strata[k]) <= left:
        s = strata[k]
        small = _subsets(m, s, 0, None)
        parts += [small] if 2 * s == m else [small, ~small]
        left -= 2 * _stratum_pairs(m, s)
        k += 1
    rest = strata[k:]
    if rest and left >= 2:
        caps = [_stratum_pairs(m, s) for s in rest]
        for s, n_pairs in zip(rest, _allocate(_shares(m, rest, allocation), caps, left // 2)):
            if n_pairs == 0:
                continue
            if 2 * s == m:  # a pair within the middle stratum: name it by the half that holds player 0
                half = np.concatenate([np.ones((n_pairs, 1), dtype=bool), _subsets(m - 1, s - 1, n_pairs, rng)], axis=1)
            else:
                half = _subsets(m, s, n_pairs, rng)
            parts += [half, ~half]
    masks = np.concatenate(parts) if parts else np.zeros((0, m), dtype=bool)
    return masks, not rest


def kernel_weights(masks: np.ndarray) -> np.ndarray:
    """Each coalition's Shapley-kernel weight over its inclusion probability within its size stratum."""
    m = masks.shape[1]
    sizes = masks.sum(axis=1)
    w = np.zeros(len(masks))
    for s in np.unique(sizes):
        sel = sizes == s
        w[sel] = (m - 1) / (s * (m - s)) / sel.sum()
    return w


def kernel_regression(masks: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The constrained weighted least squares as a linear map: phi = P @ y + d * delta.

    Minimises sum_S w_S (y_S - sum_{j in S} phi_j)^2 subject to sum(phi) = delta, with y the
    coalition values minus the base value; the constraint is eliminated (phi = delta/M + Q theta,
    Q an orthonormal basis orthogonal to the all-ones vector) and the rest solved by a pseudo-inverse,
    so too few coalitions give the minimum-norm answer rather than an error.
    """
    n, m = masks.shape
    sizes = masks.sum(axis=1).astype(float)
    if m == 1:
        return np.zeros((1, n)), np.ones(1)
    basis = np.linalg.qr(np.concatenate([np.ones((m, 1)), np.eye(m)[:, :-1]], axis=1))[0][:, 1:]
    sw = np.sqrt(weights)
    P = basis @ np.linalg.pinv((masks.astype(float) @ basis) * sw[:, None]) * sw[None, :]
    d = (1.0 - P @ sizes) / m
    return P, d


# --------------------------------------------------------------------------- explainer

class KernelShap(ShapleyExplainer):
    """Kernel SHAP over paired, stratified coalitions, with regression adjustment by default.

    Extra argument:
      adjusted  True (default): fit a Gaussian-process surrogate of the game to the sampled
                coalitions, take its Shapley values in closed form and estimate only the rest by
                the kernel regression (several times more accurate at small budgets; identical
                at full enumeration). Below 4 coalitions per player there is too little to fit
                it to, and the plain regression is used. False: always the plain kernel regression.

    `explain(X, max_evals=...)`: max_evals counts coalitions per row (as shap counts nsamples; the
    empty and full coalitions are free); default 2 M + 2048. From 2^M - 2 on every coalition is
    enumerated and the values are exact. Each coalition costs one model row per background row.
    """

    method = "kernel_shap"

    def __init__(self, model: Any, background: Any, *, adjusted: bool = True, **kwargs: Any) -> None:
        super().__init__(model, background, **kwargs)
        self.adjusted = bool(adjusted)

    def design(self, max_evals: int | None = None) -> np.ndarray:
        """The (coalitions, players) bool masks that every row of `explain(X, max_evals)` evaluates."""
        budget = check_budget(max_evals, self.n_players, "KernelShap")
        return self._design(budget, np.random.default_rng(self.seed))[0]

    def _adjusting(self, budget: int) -> bool:
        m = self.n_players
        return self.adjusted and budget >= ADJUST_FROM * m and budget < 2 ** m - 2

    def _design(self, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        return coalition_design(self.n_players, budget, rng, "mix" if self._adjusting(budget) else "kernel")

    def explain(self, X: Any, show_progress: bool | None = None, *, max_evals: int | None = None) -> Attribution:
        """Explain each row of X with at most max_evals coalitions per row; returns an `Attribution`."""
        m = self.n_players
        budget = check_budget(max_evals, m, "KernelShap")
        arr = self.model.prepare(X)
        n = arr.shape[0]
        rng = np.random.default_rng(self.seed)  # one stream, as if fresh for every row: rows stay independent
        masks, complete = self._design(budget, rng)
        P, d = kernel_regression(masks, kernel_weights(masks))
        n_coal = len(masks)
        adjust = self._adjusting(budget) and n > 0
        fit = np.sort(rng.choice(n_coal, GP_MAX, replace=False)) if adjust and n_coal > GP_MAX else np.arange(n_coal)
        select = np.sort(rng.choice(fit, SELECT_MAX, replace=False)) if len(fit) > SELECT_MAX else fit
        if adjust:
            with one_blas_thread():
                surrogate = Surrogate(masks, fit, select, P, d)

        evals_before = self.model.n_evals
        fx = self.model.evaluate(arr)
        base = self.expected_value
        k = fx.shape[1]
        values = np.empty((n, m, k))
        choices = np.full(n, -1)
        chunk = max(1, CHUNK_VALUES // max(1, n_coal * k))
        pending: list[int] = []
        y = np.empty((n_coal, min(chunk, n), k))

        def solve(rows: list[int]) -> None:
            yy = y[:, :len(rows)]
            delta = fx[rows] - base
            if adjust:
                with one_blas_thread():
                    values[rows], choices[rows] = surrogate.shapley(yy, delta)
            else:
                flat = P @ yy.reshape(n_coal, len(rows) * k) + np.outer(d, delta.ravel())
                values[rows] = flat.reshape(m, len(rows), k).transpose(1, 0, 2)

        for i in progress(range(n), total=n, desc=self.method, show=show_progress):
            if n_coal:
                game = CoalitionGame(self.model, self.masker, arr[i], self.players)
                y[:, len(pending)] = game(masks) - base
            pending.append(i)
            if len(pending) == y.shape[1]:
                solve(pending)
                pending = []
        if pending:
            solve(pending)
        meta = {"max_evals": budget, "enumerated": bool(complete), "adjusted": self._adjusting(budget)}
        if adjust:
            priors = grid(m)
            names = ["plain" if c < 0 else "rho={:.4g},boost={:g},nugget={:g}".format(*priors[c]) for c in choices]
            picked, counts = np.unique(names, return_counts=True)
            meta["surrogate"] = {"fitted_coalitions": int(len(fit)), "selection_coalitions": int(len(select)),
                                 "priors_chosen": {str(p): int(t) for p, t in zip(picked, counts)}}
        return self._result(arr, values, fx, n_coal, self.model.n_evals - evals_before, meta)

    def _budget_meta(self, **meta: Any) -> dict:
        return meta
