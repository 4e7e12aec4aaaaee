"""Standard errors of Kernel SHAP: a stratified delete-a-group jackknife over the sampled coalition pairs.

The sampling unit is a complementary pair (S, N \\ S), drawn without replacement within its size
stratum {s, M - s}; enumerated strata are not sampled and add no variance. The pairs of each sampled
stratum are dealt, in the (random) order they were drawn, into G groups; replicate g recomputes the
whole estimate without group g, the stratum's kernel mass spread over the pairs that are left. Then

    Var(phi) ~ sum_h (1 - n_h / N_h) (G_h - 1) / G_h sum_g (phi_(g) - mean_h phi_(.))^2

(finite-population correction 1 - n_h / N_h: a stratum drawn whole has no sampling error), with
Satterthwaite degrees of freedom nu = (sum_h a_h)^2 / sum_h a_h^2 / (G_h - 1). A stratum with a single
sampled pair is pooled with its neighbour (collapsed strata: conservative), and so are neighbouring
strata when there are more strata than groups to spare.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._coalitions import ones_basis, pair_units, stratum_pairs

__all__ = ["Replicates", "widen"]

#: most jackknife groups per design (each is a replicate estimate per row)
MAX_GROUPS = 128
#: most groups in one (pooled) stratum
GROUPS_PER_STRATUM = 16


def widen(variance: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """sqrt(variance) * t_{0.975, dof} / 1.96: value +- 1.96 of it is a 95% interval even with few replicates."""
    scale = np.where(np.isfinite(dof), stats.t.ppf(0.975, np.maximum(dof, 1.0)) / stats.norm.ppf(0.975), 1.0)
    return np.sqrt(np.maximum(variance, 0.0)) * scale


class Replicates:
    """The jackknife of one design: which coalitions each replicate drops and its kernel regression.

    Arguments:
      masks  (n, m) the design (complementary pairs, as `GrowingDesign` draws them)

    Attributes:
      sampled   (n,) bool, coalitions of strata that were sampled, not enumerated
      drawn     (n,) the fraction n_h / N_h of its stratum's pairs drawn (1 where enumerated)
      groups    list of index arrays: the coalitions that replicate g drops
      weights   (G, n) regression weights of replicate g (0 on the dropped coalitions)
      drawn_in  (G, n) the fraction drawn of each coalition's stratum once group g is dropped
      dropped   (G, n) bool, the coalitions replicate g drops
      H, dd     (G, m, m), (G, m): replicate g's regression phi = H (Z' W r) + dd * delta_r
      known     False when some stratum was sampled but too few pairs were drawn to tell its spread
    """

    def __init__(self, masks: np.ndarray) -> None:
        n, m = masks.shape
        self.m = m
        sizes = masks.sum(axis=1)
        stratum = np.minimum(sizes, m - sizes)
        units = pair_units(masks) if n else np.zeros(0, dtype=np.int64)
        drawn = {int(h): len(np.unique(units[stratum == h])) for h in np.unique(stratum)}
        open_strata = [h for h in sorted(drawn) if drawn[h] < stratum_pairs(m, h)]
        self.sampled = np.isin(stratum, open_strata)
        total = np.array([stratum_pairs(m, h) if h > 0 else 1 for h in range(m // 2 + 1)], dtype=float)
        count = np.zeros(m // 2 + 1)
        for h, c in drawn.items():
            count[h] = c
        self.drawn = count[stratum] / total[stratum]
        self.known = not open_strata or sum(drawn[h] for h in open_strata) >= 2
        pools = _pool([[h] for h in open_strata], drawn) if self.known else []
        per_pool = max(2, MAX_GROUPS // max(1, len(pools)))
        self.groups: list[np.ndarray] = []
        self.drawn_in: list[np.ndarray] = []
        self.pool_of: list[int] = []
        self.fpc: list[float] = []
        self.n_groups: list[int] = []
        for p, pool in enumerate(pools):
            inside = np.isin(stratum, pool)
            ids = np.unique(units[inside])                                   # order of first draw
            g = min(len(ids), per_pool, GROUPS_PER_STRATUM)
            label = np.empty(units.max() + 1, dtype=np.int64)
            label[ids] = np.arange(len(ids)) % g
            members = np.flatnonzero(inside)
            for j in range(g):
                drop = members[label[units[members]] == j]
                self.groups.append(drop)
                self.pool_of.append(p)
                less = count.copy()
                for h in pool:
                    less[h] -= len(np.unique(units[drop][stratum[drop] == h]))
                self.drawn_in.append(less[stratum] / total[stratum])
            self.fpc.append(1.0 - len(ids) / sum(stratum_pairs(m, h) for h in pool))
            self.n_groups.append(g)
        self.dropped = np.zeros((len(self.groups), n), dtype=bool)
        for g, drop in enumerate(self.groups):
            self.dropped[g, drop] = True
        self.drawn_in = np.array(self.drawn_in).reshape(len(self.groups), n)
        self._regressions(masks, sizes)

    def _regressions(self, masks: np.ndarray, sizes: np.ndarray) -> None:
        n, m = masks.shape
        G = len(self.groups)
        self.weights = np.zeros((G, n))
        self.H = np.zeros((G, m, m))
        self.dd = np.zeros((G, m))
        if G == 0 or m == 1:
            return
        Z = masks.astype(float)
        Q = ones_basis(m)
        for g, drop in enumerate(self.groups):
            keep = np.ones(n, dtype=bool)
            keep[drop] = False
            counts = np.bincount(sizes[keep], minlength=m + 1).astype(float)
            w = np.where(keep, (m - 1) / (sizes * (m - sizes)) / np.maximum(counts[sizes], 1.0), 0.0)
            A = (Z * w[:, None]).T @ Z
            H = Q @ np.linalg.pinv(Q.T @ A @ Q) @ Q.T
            self.weights[g], self.H[g], self.dd[g] = w, H, (1.0 - H @ A @ np.ones(m)) / m

    def regress_all(self, Z: np.ndarray, r: np.ndarray, delta_r: np.ndarray) -> np.ndarray:
        """Every replicate's kernel regression of its residuals r (G, n, k), sum(phi) = delta_r (G, k): (G, m, k)."""
        moments = np.einsum("gn,nj,gnk->gjk", self.weights, Z, r)
        return np.einsum("gij,gjk->gik", self.H, moments) + self.dd[:, :, None] * delta_r[:, None, :]

    def variance(self, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Jackknife variance and its degrees of freedom from the replicate estimates reps (G, ...)."""
        shape = reps.shape[1:]
        if not self.known:
            return np.full(shape, np.inf), np.zeros(shape)
        V = np.zeros(shape)
        den = np.zeros(shape)
        pool_of = np.asarray(self.pool_of)
        for p, (fpc, g) in enumerate(zip(self.fpc, self.n_groups)):
            part = reps[pool_of == p]
            a = fpc * (g - 1) / g * ((part - part.mean(axis=0)) ** 2).sum(axis=0)
            V += a
            den += a ** 2 / max(g - 1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dof = np.where(den > 0, V ** 2 / den, np.inf)
        return V, dof


def _pool(pools: list[list[int]], drawn: dict[int, int]) -> list[list[int]]:
    """Strata pooled so that each pool has at least two pairs and there are at most MAX_GROUPS / 4 pools."""
    pools = [list(p) for p in pools]
    while len(pools) > 1:
        small = [i for i, p in enumerate(pools) if sum(drawn[h] for h in p) < 2]
        if not small:
            break
        i = small[0]
        j = i + 1 if i + 1 < len(pools) else i - 1
        lo, hi = min(i, j), max(i, j)
        pools[lo:hi + 1] = [pools[lo] + pools[hi]]
    limit = MAX_GROUPS // 4
    if len(pools) > limit:
        step = -(-len(pools) // limit)
        pools = [sum(pools[i:i + step], []) for i in range(0, len(pools), step)]
    return pools
