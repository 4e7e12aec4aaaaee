"""Kernel SHAP: Shapley values as a weighted least-squares fit over sampled coalitions.

The coalitions (the design, `_coalitions.py`):
  * they come in complementary pairs S, N \\ S (paired sampling: exact for games whose
    interactions are at most pairwise, so only higher-order interactions cost accuracy);
  * coalition sizes are strata; the smallest and largest sizes are enumerated whole,
    pair of strata by pair of strata, while the budget allows;
  * the rest of the budget is drawn without replacement from the remaining sizes, stratified
    by size: half of the pairs spread over the sizes as the Shapley kernel weighs them, half
    uniformly over the remaining coalitions (plain Kernel SHAP: all as the kernel weighs them);
    in the regression a stratum's share of the Shapley kernel goes, split evenly, to the
    coalitions drawn from it (kernel weight over inclusion probability);
  * the design depends only on (players, budget, seed), so every row of a batch shares it.

The estimate (`adjusted=True`, the default) is Kernel SHAP with regression adjustment:
  1. a surrogate game g is fitted to the sampled values: a Gaussian process on the
     coalitions whose prior gives every interaction (Harsanyi dividend) of order k a variance
     rho^k (the kernel K(S, T) = (1 + rho)^|S & T| - 1), optionally with main effects and
     pairs boosted far above the rest (near-pairwise games), plus a nugget; the prior is
     chosen for each explained row by marginal likelihood from a grid of 10 (`PRIORS`);
  2. the Shapley values of g follow in closed form (a Harsanyi dividend of order k is split
     evenly among its k players): phi_g = E[phi | data] under that prior;
  3. the Shapley values of what g misses, v - g, are estimated by the Kernel SHAP
     regression itself (the efficiency constraint sum(phi) = f(x) - E[f] solved exactly); in a
     stratum with a fraction f of its pairs drawn the regression sees f (v - g) + (1 - f) times the
     leave-one-out residual, so that what g misses at the coalitions not drawn is estimated from
     out-of-sample residuals rather than taken to be 0 (see `_surrogate.py`).
  phi = phi_g + KernelSHAP(v - g). Whatever g is, the result is exactly the Shapley value
  once every coalition is enumerated; g only removes variance when sampling. The prior is
  chosen on at most SELECT_MAX coalitions and g fitted to at most GP_MAX; below ADJUST_FROM
  coalitions per player there is too little to choose a prior and the plain regression is used.
`adjusted=False` is the plain (paired, stratified) Kernel SHAP regression with the
budget spread over sizes in proportion to the Shapley kernel.

Standard errors (`_jackknife.py`): a stratified delete-a-group jackknife over the sampled pairs
with the finite-population correction, widened to t(0.975, dof) / 1.96; 0 where every coalition
was enumerated. With `tolerance=t` each row samples in rounds (each round's design contains the
last) until its largest standard error is at most t or max_evals is spent.

Ideas from the literature, combined here: Kernel SHAP (Lundberg & Lee 2017) and its paired
sampling (Covert & Lee 2021); sampling without replacement with corrected weights (Olsen &
Jullum 2024); regression adjustment of Shapley estimators (Witter et al. 2025); interaction
terms in the regression (k-additive Kernel SHAP, Pelegrina et al. 2023), here all orders at once
through the kernel of a Gaussian process.

Given the chosen prior every step is linear in the sampled values, so a model with several
outputs is solved with one design and one choice per row for all of its outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from ..errors import BudgetError
from ..results import Attribution
from ._base import ShapleyExplainer
from ._coalitions import GrowingDesign, coalition_design, kernel_regression, kernel_weights
from ._game import CoalitionGame
from ._jackknife import Replicates, widen
from ._surrogate import Surrogate, grid, one_blas_thread, plain_replicates

__all__ = ["KernelShap", "coalition_design", "kernel_regression", "default_budget", "check_tolerance"]

#: below this many coalitions per player the surrogate is not fitted (too few to choose its prior)
ADJUST_FROM = 4
#: the surrogate is fitted to at most this many coalitions (a random subset beyond it)
GP_MAX = 2560
#: the prior is chosen on at most this many of them
SELECT_MAX = 512
#: most sampled values (rows x coalitions x outputs) held at once while solving
CHUNK_VALUES = 1 << 23
#: with `tolerance=`, each round's budget is this many times the last one's
GROWTH = 1.5


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


def check_tolerance(tolerance: Any) -> float | None:
    """`tolerance` as a positive float (or None), or a `BudgetError` that says what is needed."""
    if tolerance is None:
        return None
    try:
        value = float(tolerance)
    except (TypeError, ValueError):
        raise BudgetError(f"tolerance must be a positive number (the largest standard error to stop at), "
                          f"got {tolerance!r}") from None
    if not (np.isfinite(value) and value > 0) or isinstance(tolerance, bool):
        raise BudgetError(f"tolerance must be a positive number (the largest standard error to stop at), "
                          f"got {tolerance!r}; leave it out to spend max_evals on every row")
    return value


def schedule(first: int, budget: int, n_players: int) -> list[int]:
    """The budgets of the sampling rounds: first, then GROWTH times the last, up to the budget."""
    if n_players < 62:
        budget = min(budget, 2 ** n_players - 2)
    out = [max(1, min(first, budget))]
    while out[-1] < budget:
        out.append(min(budget, int(np.ceil(out[-1] * GROWTH))))
    return out


def stop_reason(complete: bool, se: np.ndarray, tolerance: float | None, last: bool) -> str:
    """Why a row stops after a round: "enumerated", "tolerance", "max_evals", or "" when it goes on."""
    if complete:
        return "enumerated"
    if tolerance is not None and float(se.max(initial=0.0)) <= tolerance:
        return "tolerance"
    return "max_evals" if last else ""


class _Round:
    """One design of a (possibly one-round) explanation: its regression, jackknife and surrogate."""

    def __init__(self, masks: np.ndarray, complete: bool, adjust: bool, rng: np.random.Generator) -> None:
        self.masks, self.complete, self.Z = masks, complete, masks.astype(float)
        n = len(masks)
        with one_blas_thread():
            self.P, self.d = kernel_regression(masks, kernel_weights(masks))
            self.reps = Replicates(masks)
            self.fit = np.sort(rng.choice(n, GP_MAX, replace=False)) if adjust and n > GP_MAX else np.arange(n)
            self.select = np.sort(rng.choice(self.fit, SELECT_MAX, replace=False)) \
                if len(self.fit) > SELECT_MAX else self.fit
            self.surrogate = Surrogate(masks, self.fit, self.select, self.P, self.d, self.reps) \
                if adjust and n and not complete else None

    def estimate(self, ys: dict[int, np.ndarray], deltas: dict[int, np.ndarray]) -> dict[int, tuple]:
        """Per row: (phi (m, k), standard error (m, k), its degrees of freedom, prior chosen or -1)."""
        out = {}
        with one_blas_thread():
            choice = {i: self.surrogate.prior(y, deltas[i]) if self.surrogate else -1 for i, y in ys.items()}
            for i in sorted(ys, key=lambda i: (choice[i], i)):      # rows sharing a prior share its factorisation
                y, delta = ys[i], deltas[i]
                if self.surrogate is not None:
                    phi, reps, c = self.surrogate.row(y, delta, choice[i])
                else:
                    phi, c = self.P @ y + np.outer(self.d, delta), -1
                    reps = plain_replicates(self.reps, self.Z, y, delta)
                if self.complete:  # every coalition: exact
                    V, dof = np.zeros_like(phi), np.full(phi.shape, np.inf)
                else:
                    V, dof = self.reps.variance(reps)
                out[i] = (phi, widen(V, dof), dof, c)
        return out


# --------------------------------------------------------------------------- explainer

class KernelShap(ShapleyExplainer):
    """Kernel SHAP over paired, stratified coalitions, with regression adjustment by default.

    Extra argument:
      adjusted  True (default): fit a Gaussian-process surrogate of the game to the sampled
                coalitions, take its Shapley values in closed form and estimate only the rest by
                the kernel regression (several times more accurate at small budgets; identical
                at full enumeration). Below 4 coalitions per player there is too little to fit
                it to, and the plain regression is used. False: always the plain kernel regression.

    `explain(X, max_evals=..., tolerance=...)`: max_evals counts coalitions per row (as shap counts
    nsamples; the empty and full coalitions are free); default 2 M + 2048. From 2^M - 2 on every
    coalition is enumerated and the values are exact. Each coalition costs one model row per
    background row. The result's `standard_error` is the jackknife standard error of each value (0 when
    enumerated); tolerance stops each row as soon as its largest standard error is at most that.
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

    def explain(self, X: Any, show_progress: bool | None = None, *, max_evals: int | None = None,
                tolerance: float | None = None) -> Attribution:
        """Explain each row of X with at most max_evals coalitions per row; returns an `Attribution`.

        Arguments:
          max_evals  most coalitions per row (default 2 M + 2048)
          tolerance  None: spend max_evals on every row. A number: sample in rounds (the first of
                     4 M + 16 coalitions, each next one 1.5 times larger) and stop a row once its
                     largest standard error is at most this; meta["stopped"] says per row why it
                     stopped ("tolerance", "max_evals" or "enumerated") and meta["coalitions"] how
                     many coalitions it used
        """
        m = self.n_players
        budget = check_budget(max_evals, m, "KernelShap")
        tol = check_tolerance(tolerance)
        arr = self.model.prepare(X)
        n = arr.shape[0]
        budgets = schedule(4 * m + 16, budget, m) if tol is not None else [budget]
        grower = GrowingDesign(m, np.random.default_rng(self.seed), "mix" if self._adjusting(budget) else "kernel")
        rounds: list[_Round] = []

        def round_(r: int) -> _Round:  # built on first use; depends only on (seed, settings, r)
            while len(rounds) <= r:
                b = budgets[len(rounds)]
                masks = grower.grow(b).copy()
                rng = np.random.default_rng([self.seed, len(rounds)])     # the surrogate's random subsets
                rounds.append(_Round(masks, grower.complete, self._adjusting(b), rng))
            return rounds[r]

        evals_before = self.model.n_evals
        base = self.expected_value
        k = len(base)
        values, se, fx = np.zeros((n, m, k)), np.zeros((n, m, k)), np.zeros((n, k))
        stopped, used, dofs, choices = [""] * n, [0] * n, [None] * n, [-1] * n
        ticker = progress(range(n), total=n, desc=self.method, show=show_progress)
        chunk = max(1, CHUNK_VALUES // max(1, min(budget, 2 ** min(m, 40)) * k))
        for start in range(0, n, chunk):
            active = list(range(start, min(n, start + chunk)))
            games = {i: CoalitionGame(self.model, self.masker, arr[i], self.players) for i in active}
            fx[active] = self.model.evaluate_each(arr[active])   # a row's values never depend on its batch
            deltas = {i: fx[i] - base for i in active}
            ys = {i: np.zeros((0, k)) for i in active}
            for r in range(len(budgets)):
                rnd = round_(r)
                for i in active:
                    new = rnd.masks[len(ys[i]):]
                    if len(new):
                        ys[i] = np.concatenate([ys[i], games[i](new) - base])
                    if r == 0:
                        next(ticker, None)
                results = rnd.estimate({i: ys[i] for i in active}, {i: deltas[i] for i in active})
                for i in active:
                    values[i], se[i], dof, choices[i] = results[i]
                    used[i] = len(rnd.masks)
                    finite = dof[np.isfinite(dof)]
                    dofs[i] = round(float(finite.min()), 3) if finite.size else None
                    stopped[i] = stop_reason(rnd.complete, se[i], tol, r == len(budgets) - 1)
                active = [i for i in active if not stopped[i]]
                if not active:
                    break
        last = rounds[-1] if rounds else None
        meta: dict = {"max_evals": budget, "enumerated": bool(n) and all(s == "enumerated" for s in stopped),
                      "adjusted": self._adjusting(budget), "tolerance": tol, "stopped": stopped, "coalitions": used,
                      "standard_error": "stratified delete-a-group jackknife over the sampled coalition pairs, "
                                        "widened to t(0.975, dof) / 1.96", "standard_error_dof": dofs,
                      "per_row": ["stopped", "coalitions", "standard_error_dof"]}
        if tol is not None:
            meta["rounds"] = budgets[:len(rounds)]
        if last is not None and any(r.surrogate is not None for r in rounds):
            priors = grid(m)
            names = ["plain" if c < 0 else "rho={:.4g},boost={:g},nugget={:g}".format(*priors[c]) for c in choices]
            picked, counts = np.unique(names, return_counts=True)
            meta["surrogate"] = {"fitted_coalitions": int(len(last.fit)), "selection_coalitions": int(len(last.select)),
                                 "priors_chosen": {str(p): int(t) for p, t in zip(picked, counts)}}
        return self._result(arr, values, fx, max(used, default=0), self.model.n_evals - evals_before, meta,
                            standard_error=se)

    def _budget_meta(self, **meta: Any) -> dict:
        return meta
