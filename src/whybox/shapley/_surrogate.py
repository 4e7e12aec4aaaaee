"""The surrogate behind regression-adjusted Kernel SHAP: a Gaussian process over coalitions.

Its prior gives every interaction (Harsanyi dividend) of order k a variance rho^k, so the
covariance of two coalitions sharing i players is (1 + rho)^i - 1, and the Shapley values of
the posterior mean follow in closed form (a dividend of order k is split evenly among its k
players). `KernelShap` fits it to the sampled values and estimates only what it misses:

    phi = Shapley(g) + KernelSHAP(e),   e_S = f_h r_S + (1 - f_h) r_S^loo   (S drawn from stratum h),

r = v - g the residual, r^loo = v(S) - g_{-S}(S) that of the surrogate fitted without S (in closed form:
[K^-1 y]_S / [K^-1]_SS), f_h = n_h / N_h the fraction of the stratum's pairs drawn (1 where enumerated,
so e = r there). Shapley(v) - Shapley(g) is a kernel-weighted sum of r over the drawn coalitions,
known, plus one over those not drawn, estimated from the out-of-sample residuals of the drawn ones
expanded by (N_h - n_h) / n_h: a difference estimator, design-unbiased up to the leave-one-out
approximation. With in-sample residuals alone (~0 where g interpolates) the part not drawn is lost,
and its error is a bias that is the same for every seed, which no standard error can see.
The jackknife replicates (`_jackknife.py`) are recomputed in closed form from the inverse covariance:
dropping the group B of fitted coalitions, alpha' = alpha - K^-1[:, B] (K^-1[B, B])^-1 alpha_B and
[K'^-1]_ii = [K^-1]_ii - K^-1[i, B] (K^-1[B, B])^-1 K^-1[B, i]. The prior stays the one chosen.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ContextManager

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from ._jackknife import Replicates

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
    subset of fit) whose marginal likelihood picks the prior; (P, d): the kernel regression;
    reps: the design's jackknife. Everything here depends on the design only, so it is computed
    once per design and shared by every row; `row` works on one row at a time, so a row's result
    never depends on the other rows of a batch.
    """

    def __init__(self, masks: np.ndarray, fit: np.ndarray, select: np.ndarray, P: np.ndarray, d: np.ndarray,
                 reps: Replicates) -> None:
        self.masks, self.fit, self.select, self.P, self.d, self.reps = masks, fit, select, P, d, reps
        m = masks.shape[1]
        self.grid = grid(m)
        full = np.ones((1, m), dtype=bool)
        self.obs = np.concatenate([masks[fit], full]).astype(float)        # the fitted coalitions and N
        self.sizes = self.obs.sum(axis=1)
        self.inter = self.obs @ self.obs.T                                # |S & T| between fitted coalitions
        self.sel = np.concatenate([np.searchsorted(fit, select), [len(fit)]])
        self.Z = masks.astype(float)
        self.pos = np.full(len(masks), -1)
        self.pos[fit] = np.arange(len(fit))
        self.nonfit = np.flatnonzero(self.pos < 0)
        self.loo = np.append(reps.sampled[fit], False)                    # fitted coalitions left out one by one
        self._factors: dict[tuple[int, bool], Any] = {}
        self._priors: dict[tuple[float, float, bool], np.ndarray] = {}
        self._inverses: dict[int, dict] = {}
        self._full_kept = max(1, (1 << 27) // (8 * len(self.obs) ** 2))   # full-size matrices kept (~128 MB)

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

    def _inverse(self, c: int) -> dict | None:
        """K^-1 of prior c over the fitted coalitions and what every jackknife replicate needs of it."""
        if c in self._inverses:
            return self._inverses[c]
        factor = self._factor(c, subset=False)
        if factor is None:
            return None
        for old in list(self._inverses)[:max(0, len(self._inverses) + 1 - self._full_kept)]:
            del self._inverses[old]
        rho, boost, nugget = self.grid[c]
        inv, info = lapack.dpotri(factor[0], lower=1)
        if info != 0:
            return None
        low = np.tril(inv)
        del inv
        diag = np.diag(low).copy()
        drops = [self.pos[drop][self.pos[drop] >= 0] for drop in self.reps.groups]
        cut = np.cumsum([0] + [len(b) for b in drops])
        both = np.concatenate(drops) if drops else np.zeros(0, dtype=np.int64)
        rows = low[both] + low[:, both].T                                 # rows `both` of the symmetric K^-1
        rows[np.arange(len(both)), both] -= diag[both]
        del low
        blocks, shrunk = [], np.empty((len(drops), len(diag)))
        for g, b in enumerate(drops):
            rb = rows[cut[g]:cut[g + 1]]                                  # (|b|, fitted + 1)
            W = np.linalg.inv(rb[:, b]) if len(b) else np.zeros((0, 0))
            shrunk[g] = diag - ((rb.T @ W) * rb.T).sum(axis=1) if len(b) else diag
            blocks.append((b, W, rb))
        part = {"factor": factor, "diag": diag, "blocks": blocks, "shrunk": shrunk,
                "noise": self._noise(_cov(np.diag(self.inter), rho, boost), nugget),
                "to_phi": (self.obs * _share(self.sizes, rho, boost)[:, None]).T, "rho": rho, "boost": boost}
        self._inverses[c] = part
        return part

    def _residuals(self, y: np.ndarray, alpha: np.ndarray, diag: np.ndarray, noise: np.ndarray,
                   g_nonfit: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        """What the regression sees (..., n, k): f r + (1 - f) r_loo on fitted coalitions of a stratum with a
        fraction f of its pairs drawn (r in-sample, r_loo left out), the residual itself elsewhere. Leading
        axes (replicates) broadcast through alpha (..., fitted + 1, k), diag and drawn (..., n)."""
        lead = alpha.shape[:-2]
        r = np.empty(lead + y.shape[-2:])
        inside = noise[:-1, None] * alpha[..., :-1, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = alpha[..., :-1, :] / diag[..., :-1, None]
        f = drawn[..., self.fit][..., None]
        r[..., self.fit, :] = np.where(self.loo[:-1, None], f * inside + (1.0 - f) * out, inside)
        r[..., self.nonfit, :] = y[..., self.nonfit, :] - g_nonfit
        return r

    def prior(self, y: np.ndarray, delta: np.ndarray) -> int:
        """The prior one row's values y (n, k) minus the base and delta (k,) choose (-1: none)."""
        return int(self.choose(np.concatenate([y[self.fit], delta[None]]), 1, y.shape[1])[0])

    def row(self, y: np.ndarray, delta: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray, int]:
        """One row: values y (n, k) minus the base, delta (k,), its prior c -> (phi (m, k), replicates (G, m, k), c).

        c is -1 when no prior could be fitted; the row then gets the plain kernel regression.
        """
        k = y.shape[1]
        m = self.masks.shape[1]
        rhs = np.concatenate([y[self.fit], delta[None]])
        part = self._inverse(c) if c >= 0 else None
        if part is None:
            phi = self.P @ y + np.outer(self.d, delta)
            return phi, plain_replicates(self.reps, self.Z, y, delta), -1
        alpha = linalg.cho_solve(part["factor"], rhs, check_finite=False)
        to_phi = part["to_phi"]
        G = len(part["blocks"])
        shift = np.zeros((G,) + alpha.shape)                                      # alpha - alpha of replicate g
        for g, (b, W, rb) in enumerate(part["blocks"]):
            if len(b):
                shift[g] = rb.T @ (W @ alpha[b])
        moved = np.concatenate([alpha[None], shift]).transpose(1, 0, 2).reshape(len(alpha), -1)
        g_nonfit = self._predict(part, moved).reshape(len(self.nonfit), G + 1, k).transpose(1, 0, 2)
        r = self._residuals(y, alpha, part["diag"], part["noise"], g_nonfit[0], self.reps.drawn)
        phi = _efficient(to_phi @ alpha + self.P @ r + np.outer(self.d, delta - to_phi.sum(axis=0) @ alpha), delta)
        if not G:
            return phi, np.zeros((0, m, k)), c
        a2 = alpha[None] - shift                                                  # (G, fitted + 1, k)
        r2 = self._residuals(y[None], a2, part["shrunk"], part["noise"], g_nonfit[0][None] - g_nonfit[1:],
                             self.reps.drawn_in)
        r2[self.reps.dropped] = 0.0                                               # dropped: weight 0
        dr = delta[None] - np.einsum("o,gok->gk", to_phi.sum(axis=0), a2)
        reps = np.einsum("jo,gok->gjk", to_phi, a2) + self.reps.regress_all(self.Z, r2, dr)
        return phi, _efficient(reps, delta, axis=1), c

    def _predict(self, part: dict, alpha: np.ndarray) -> np.ndarray:
        """The surrogate (for every alpha column) at the coalitions it was not fitted to."""
        out = np.empty((len(self.nonfit), alpha.shape[1]))
        for i in range(0, len(self.nonfit), 4096):
            rows = self.nonfit[i:i + 4096]
            out[i:i + 4096] = _cov(self.Z[rows] @ self.obs.T, part["rho"], part["boost"]) @ alpha
        return out


def _efficient(phi: np.ndarray, delta: np.ndarray, axis: int = 0) -> np.ndarray:
    """sum(phi) = delta restored along the players' axis (rounding only)."""
    return phi + np.expand_dims(delta - phi.sum(axis=axis), axis) / phi.shape[axis]


def plain_replicates(reps: Replicates, Z: np.ndarray, y: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The plain kernel regression's jackknife replicates for one row: (G, m, k)."""
    if not reps.groups:
        return np.zeros((0, Z.shape[1], y.shape[1]))
    r = np.broadcast_to(y, (len(reps.groups),) + y.shape).copy()
    r[reps.dropped] = 0.0
    return _efficient(reps.regress_all(Z, r, np.broadcast_to(delta, (len(reps.groups), len(delta)))), delta, axis=1)
