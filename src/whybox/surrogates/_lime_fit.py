"""LIME's surrogate: a weighted ridge regression on the interpretable features, with feature selection.

Everything works on the weighted sufficient statistics of the centred design (the Gram matrix
Z'WZ and Z'WY), so selecting features, refitting and scoring never touch the samples again and
every output (class) is fitted from the same statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SELECTIONS", "SurrogateFit", "fit_surrogate", "resolve_selection"]

SELECTIONS = ("auto", "forward", "lasso", "highest_weights", "none")


@dataclass
class SurrogateFit:
    """The fitted surrogate of one explained row.

    coef       (m, k) ridge coefficients, 0 for unselected features
    intercept  (k,)
    r2         (k,) weighted R² of the surrogate on the samples (local fidelity)
    selected   k arrays of selected feature indices, in order of selection (forward) or weight
    pred_x     (k,) the surrogate's prediction at the explained input
    """

    coef: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    selected: list[np.ndarray]
    pred_x: np.ndarray


def resolve_selection(selection: str, num_features: int | None, m: int) -> str:
    """lime's rule for "auto": forward selection up to 6 features, highest weights beyond; all if they fit."""
    if num_features is None or num_features >= m or selection == "none":
        return "none"
    if selection == "auto":
        return "forward" if num_features <= 6 else "highest_weights"
    return selection


class _Stats:
    """Weighted means and centred cross-products of a design Z (n, m) and targets Y (n, k)."""

    def __init__(self, Z: np.ndarray, Y: np.ndarray, w: np.ndarray) -> None:
        sw = float(w.sum())
        self.zbar = (w @ Z) / sw
        self.ybar = (w @ Y) / sw
        Zc = Z - self.zbar
        Yc = Y - self.ybar
        Zw = Zc * w[:, None]
        self.G = Zw.T @ Zc                                # (m, m)
        self.B = Zw.T @ Yc                                # (m, k)
        self.syy = np.einsum("i,ik,ik->k", w, Yc, Yc)    # (k,)
        self.n = Z.shape[0]
        # below this the output is constant up to rounding
        self.tiny = 1e-20 * sw * (1.0 + self.ybar ** 2)

    def solve(self, idx: np.ndarray, alpha: float, out: int | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Ridge on the features `idx` for output(s) `out`: returns (beta (s[, k]), sse ([k]))."""
        G = self.G[np.ix_(idx, idx)] + alpha * np.eye(len(idx))
        b = self.B[idx][:, out]
        beta = _solve(G, b)
        sse = self.syy[out] - 2 * np.einsum("s...,s...->...", beta, b) + np.einsum(
            "s...,st,t...->...", beta, self.G[np.ix_(idx, idx)], beta)
        return beta, sse

    def r2(self, sse: np.ndarray, out: int | slice = slice(None)) -> np.ndarray:
        syy = self.syy[out]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = 1.0 - sse / syy
        # a model that is constant over the neighbourhood is fitted exactly by the intercept
        return np.where(syy > self.tiny[out], r, 1.0)


def _solve(G: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(G, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(G) @ b


def _forward(st: _Stats, o: int, k: int, alpha: float) -> np.ndarray:
    """Greedy forward selection: add the feature that raises the weighted R² most, k times."""
    m = st.G.shape[0]
    chosen: list[int] = []
    for _ in range(k):
        rest = np.array([j for j in range(m) if j not in chosen])
        idx = np.column_stack([np.tile(chosen, (len(rest), 1)).astype(int), rest])  # (candidates, s)
        G = st.G[idx[:, :, None], idx[:, None, :]] + alpha * np.eye(idx.shape[1])
        b = st.B[idx, o]                                                                 # (candidates, s)
        try:
            beta = np.linalg.solve(G, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            beta = np.einsum("cst,ct->cs", np.linalg.pinv(G), b)
        G0 = G - alpha * np.eye(idx.shape[1])
        sse = st.syy[o] - 2 * np.einsum("cs,cs->c", beta, b) + np.einsum("cs,cst,ct->c", beta, G0, beta)
        chosen.append(int(rest[int(np.argmin(sse))]))   # ties: the lowest feature index
    return np.array(chosen, dtype=int)


def _highest_weights(st: _Stats, o: int, k: int, alpha: float) -> np.ndarray:
    """The k largest |coefficients| of the ridge on every feature."""
    beta, _ = st.solve(np.arange(st.G.shape[0]), alpha, o)
    return np.argsort(-np.abs(beta), kind="stable")[:k]


def _lasso(st: _Stats, o: int, k: int) -> np.ndarray:
    """The last point of the weighted lasso path (LARS) with at most k non-zero coefficients."""
    from sklearn.linear_model import lars_path_gram

    _, _, coefs = lars_path_gram(Xy=st.B[:, o], Gram=st.G, n_samples=st.n, method="lasso")
    nonzero = (coefs != 0).sum(axis=0)
    ok = np.flatnonzero(nonzero <= k)
    col = coefs[:, ok[-1]]
    idx = np.flatnonzero(col)
    return idx[np.argsort(-np.abs(col[idx]), kind="stable")]


def fit_surrogate(Z: np.ndarray, Y: np.ndarray, w: np.ndarray, z_x: np.ndarray, num_features: int | None,
                  selection: str, alpha: float) -> SurrogateFit:
    """Weighted ridge of Y (n, k) on Z (n, m) with sample weights w, after selecting features per output.

    minimises sum_i w_i (y_i - b - z_i' beta)^2 + alpha |beta|^2 (the intercept is not penalised).
    """
    m, k = Z.shape[1], Y.shape[1]
    st = _Stats(Z, Y, w)
    how = resolve_selection(selection, num_features, m)
    coef = np.zeros((m, k))
    r2 = np.empty(k)
    selected: list[np.ndarray] = []
    if how == "none":
        idx = np.arange(m)
        beta, sse = st.solve(idx, alpha)
        coef[:] = beta
        r2[:] = st.r2(sse)
        order = np.argsort(-np.abs(beta), axis=0, kind="stable")
        selected = [order[:, o] for o in range(k)]
    else:
        for o in range(k):
            if how == "forward":
                idx = _forward(st, o, num_features, alpha)
            elif how == "highest_weights":
                idx = _highest_weights(st, o, num_features, alpha)
            else:
                idx = _lasso(st, o, num_features)
            if len(idx):
                beta, sse = st.solve(idx, alpha, o)
                coef[idx, o] = beta
            else:
                sse = st.syy[o]
            r2[o] = st.r2(np.asarray(sse), o)
            selected.append(idx)
    intercept = st.ybar - st.zbar @ coef
    pred_x = intercept + z_x @ coef
    return SurrogateFit(coef=coef, intercept=intercept, r2=r2, selected=selected, pred_x=pred_x)
