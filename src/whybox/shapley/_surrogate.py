"""The surrogate behind regression-adjusted Kernel SHAP: a Gaussian process over coalitions.

Its prior gives every interaction (Harsanyi dividend) of order k a variance rho^k, so the
covariance of two coalitions sharing i players is (1 + rho)^i - 1, and the Shapley values of
the posterior mean follow in closed form (a dividend of order k is split evenly among its k
players). `KernelShap` fits it to the sampled values and estimates only what it misses.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ContextManager

import numpy as np
from scipy import linalg

#: the surrogate's priors, (rho x players, boost of main effects and pairs, nugget / mean prior variance)
PRIORS = tuple((scale, 0.0, nugget) for scale in (0.1, 0.3, 1.0, 3.0) for nugget in (0.0, 1e-3)) + (
    (0.3, 1e3, 0.0), (1.0, 1e3, 0.0))
#: relative jitter that keeps the surrogate's covariance factorisable
JITTER = 1e-10


def one_blas_thread() -> ContextManager:
    """Run the surrogate's small dense algebra on one BLAS thread.

    Its matrices are a few hundred to a few thousand wide: threads gain little there, and when
    the cores are busy (a model server, a parallel test run) a threaded BLAS that waits for a
    descheduled peer can be a hundred times slower.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
            return nullcontext()
        _CONTROLLER = ThreadpoolController()  # finding the BLAS libraries once: a few ms
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER: Any = None


def grid(m: int) -> list[tuple[float, float, float]]:
    """The (rho, boost, nugget) candidates for m players."""
    return [(scale / m, boost, nugget) for scale, boost, nugget in PRIORS]


def _cov(inter: np.ndarray, rho: float, boost: float) -> np.ndarray:
    """Prior covariance of the surrogate between coalitions that share `inter` players.

    Every interaction (Harsanyi dividend) of order k has prior variance rho^k, times (1 + boost)
    for main effects and pairs: sum_k var_k C(inter, k) = (1 + rho)^inter - 1 + boost (...).
    """
    cov = np.expm1(inter * np.log1p(rho))
    if boost:
        cov += boost * (rho * inter + rho * rho * inter * (inter - 1.0) / 2.0)
    return cov


def _share(sizes: np.ndarray, rho: float, boost: float) -> np.ndarray:
    """Cov(phi_j, v(S)) for j in S: the dividends of S's subsets that hold j, each split among its members."""
    share = np.expm1(sizes * np.log1p(rho)) / np.maximum(sizes, 1.0)
    if boost:
        share += boost * (rho + rho * rho * (sizes - 1.0) / 2.0)
    return share


class Surrogate:
    """The Gaussian-process surrogate over one design: factorisations are shared by all rows.

    masks  (n, m) the design; fit: the coalitions the surrogate is fitted to; select: those (a
    subset of fit) whose marginal likelihood picks the prior; (P, d): the kernel regression.
    Everything here depends on the design only, so it is computed once per `explain`.
    """

    def __init__(self, masks: np.ndarray, fit: np.ndarray, select: np.ndarray, P: np.ndarray, d: np.ndarray) -> None:
        self.masks, self.fit, self.select, self.P, self.d = masks, fit, select, P, d
        m = masks.shape[1]
        self.grid = grid(m)
        full = np.ones((1, m), dtype=bool)
        self.obs = np.concatenate([masks[fit], full]).astype(float)        # the fitted coalitions and N
        self.sizes = self.obs.sum(axis=1)
        self.inter = self.obs @ self.obs.T                                # |S & T| between fitted coalitions
        self.sel = np.concatenate([np.searchsorted(fit, select), [len(fit)]])
        self.all_fitted = len(fit) == len(masks)
        self._factors: dict[tuple[int, bool], Any] = {}
        self._priors: dict[tuple[float, float, bool], np.ndarray] = {}
        self._full_kept = max(1, (1 << 27) // (8 * len(self.obs) ** 2))   # full-size factors kept (~128 MB)

    def _factor(self, c: int, subset: bool) -> Any:
        """Cholesky factor of the prior covariance (+ nugget) over the selection or fitted coalitions."""
        key = (c, subset)
        if key not in self._factors:
            rho, boost, nugget = self.grid[c]
            if (rho, boost, subset) not in self._priors:                  # shared by the nugget candidates
                self._priors = {key2: v for key2, v in self._priors.items() if key2[2]}
                idx = self.sel if subset else slice(None)
                self._priors[rho, boost, subset] = _cov(self.inter[idx][:, idx], rho, boost)
            K = self._priors[rho, boost, subset].copy()
            diag = np.diag(K).copy()
            K[np.diag_indices_from(K)] += self._noise(diag, nugget)
            if not subset:
                full = [key2 for key2 in self._factors if not key2[1]]
                for old in full[:max(0, len(full) + 1 - self._full_kept)]:
                    del self._factors[old]
            try:
                self._factors[key] = linalg.cho_factor(K, lower=True, overwrite_a=True, check_finite=False)
            except linalg.LinAlgError:
                self._factors[key] = None
        return self._factors[key]

    @staticmethod
    def _noise(diag: np.ndarray, nugget: float) -> np.ndarray:
        """What is added to the prior variances: the nugget (none for N: f(x) is known) and jitter."""
        noise = np.full(len(diag), nugget * diag.mean())
        noise[-1] = 0.0
        return noise + JITTER * diag

    def choose(self, rhs: np.ndarray, r: int, k: int) -> np.ndarray:
        """Per row, the grid index with the highest marginal likelihood on the selection (-1: none).

        rhs (fitted + 1, r k) observed values; each output's scale is profiled out and a row's
        outputs add their log-likelihoods, so all outputs of a row share one choice.
        """
        b = rhs[self.sel]
        n = len(b)
        live = (np.abs(b).max(axis=0) > 0).reshape(r, k)                  # outputs that vary at all
        best = np.full(r, -np.inf)
        choice = np.full(r, -1)
        for c in range(len(self.grid)):
            factor = self._factor(c, subset=len(self.sel) < len(self.obs))
            if factor is None:
                continue
            z = linalg.solve_triangular(factor[0], b, lower=True, check_finite=False)
            q = (z * z).sum(axis=0).reshape(r, k)
            logdet = 2.0 * np.log(np.diag(factor[0])).sum()
            ll = np.where(live, -0.5 * n * np.log(np.maximum(q, 1e-300) / n) - 0.5 * logdet, 0.0).sum(axis=1)
            better = ll > best
            best[better], choice[better] = ll[better], c
        return choice

    def shapley(self, y: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """phi (r, m, k) for values y (n, r, k) minus the base and delta (r, k); and each row's choice."""
        n, r, k = y.shape
        m = self.masks.shape[1]
        flat = y.reshape(n, r * k)
        phi = (self.P @ flat + np.outer(self.d, delta.ravel())).reshape(m, r, k)   # plain Kernel SHAP to start
        rhs = np.concatenate([flat[self.fit], delta.reshape(1, -1)])
        choice = self.choose(rhs, r, k)
        for c in np.unique(choice[choice >= 0]):
            rows = choice == c
            factor = self._factor(c, subset=False)
            if factor is None:
                choice[rows] = -1
                continue
            rho, boost, _ = self.grid[c]
            cols = np.repeat(rows, k)
            alpha = linalg.cho_solve(factor, rhs[:, cols], check_finite=False)       # (fitted + 1, rb k)
            to_phi = (self.obs * _share(self.sizes, rho, boost)[:, None]).T         # the surrogate's Shapley values
            if self.all_fitted:  # K alpha = rhs, so the prior part at the fitted coalitions is rhs - noise alpha
                noise = self._noise(_cov(np.diag(self.inter), rho, boost), self.grid[c][2])
                g = (rhs[:, cols] - noise[:, None] * alpha)[:-1]
            else:
                g = np.empty((n, alpha.shape[1]))
                for i in range(0, n, 4096):
                    g[i:i + 4096] = _cov(self.masks[i:i + 4096].astype(float) @ self.obs.T, rho, boost) @ alpha
            g_full = to_phi.sum(axis=0) @ alpha                                     # the surrogate at N
            est = to_phi @ alpha + self.P @ (flat[:, cols] - g) + np.outer(self.d, delta.ravel()[cols] - g_full)
            phi[:, rows] = est.reshape(m, -1, k)
        phi += (delta - phi.sum(axis=0))[None] / m                            # rounding only: keep sum(phi) exact
        return phi.transpose(1, 0, 2), choice
