"""Kernel SHAP's coalitions: complementary pairs, stratified by size, drawn without replacement.

A size stratum {s, M - s} holds N_s complementary pairs (S, N \\ S). The smallest and largest sizes
are enumerated whole, pair of strata by pair of strata, while the budget allows; the rest of the
budget is drawn without replacement from the remaining strata, at least one pair per stratum while
the budget allows. A `GrowingDesign` keeps drawing: every later design contains the earlier one, so
`KernelShap(tolerance=...)` can sample in rounds and stop a row as soon as it is precise enough.

In the regression a stratum's share of the Shapley kernel goes, split evenly, to the coalitions
drawn from it (kernel weight over inclusion probability).
"""

from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["GrowingDesign", "coalition_design", "kernel_weights", "kernel_regression", "stratum_pairs", "pair_units"]


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


def _skip(x: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The x-th smallest integers (0-based) that are not in the sorted array `taken`."""
    r = x.copy()
    while True:
        nxt = x + np.searchsorted(taken, r, side="right")
        if np.array_equal(nxt, r):
            return r
        r = nxt


def stratum_pairs(m: int, s: int) -> int:
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
    count = np.array([float(stratum_pairs(m, s)) for s in strata])
    if allocation == "kernel":
        return kernel
    if allocation == "mix":
        return kernel / kernel.sum() + count / count.sum()
    return count


class GrowingDesign:
    """Paired coalitions of m players, drawn stratum by stratum without replacement, that grow on demand.

    Arguments:
      m           players
      rng         the random stream (the design depends only on (m, budgets, rng))
      allocation  "kernel" (pairs spread over strata as the Shapley kernel weighs them), "uniform"
                  (every remaining coalition equally likely) or "mix" (half and half)

    `grow(budget)` returns every coalition drawn so far, at most `budget` of them: it completes the
    outer strata while they fit (the first call enumerates them) and spreads the rest over the strata
    not yet exhausted. `masks` grows by appending, so earlier coalitions keep their positions.
    """

    def __init__(self, m: int, rng: np.random.Generator, allocation: str = "mix") -> None:
        self.m, self.rng, self.allocation = m, rng, allocation
        self.strata = list(range(1, m // 2 + 1))
        self.taken: dict[int, np.ndarray] = {s: np.zeros(0, dtype=np.int64) for s in self.strata}
        self.seen: dict[int, set[bytes]] = {s: set() for s in self.strata}      # strata too large to rank
        self.count = {s: 0 for s in self.strata}                              # pairs drawn per stratum
        self.parts: list[np.ndarray] = []
        self.size = 0

    @property
    def masks(self) -> np.ndarray:
        if not self.parts:
            return np.zeros((0, self.m), dtype=bool)
        if len(self.parts) > 1:
            self.parts = [np.concatenate(self.parts)]
        return self.parts[0]

    @property
    def complete(self) -> bool:
        """Every proper coalition drawn: the estimate is exact."""
        return all(self.count[s] == stratum_pairs(self.m, s) for s in self.strata)

    def _draw(self, s: int, n: int) -> np.ndarray:
        """n new pairs of stratum s, named by their smaller half (in the middle stratum: the half holding player 0)."""
        m = self.m
        middle = 2 * s == m
        mm, ss = (m - 1, s - 1) if middle else (m, s)
        total = comb(mm, ss)
        if total < 2 ** 62:
            avail = total - len(self.taken[s])
            pick = self.rng.choice(avail, size=n, replace=False)
            ranks = _skip(np.asarray(pick, dtype=np.int64), self.taken[s]) if len(self.taken[s]) else pick
            half = _unrank(mm, ss, ranks)
            self.taken[s] = np.sort(np.concatenate([self.taken[s], np.asarray(ranks, dtype=np.int64)]))
        else:  # astronomically many subsets: draw and drop the (rare) repeats
            found: dict[bytes, np.ndarray] = {}
            while len(found) < n:
                order = np.argsort(self.rng.random((n, mm)), axis=1)[:, :ss]
                rows = np.zeros((n, mm), dtype=bool)
                np.put_along_axis(rows, order, True, axis=1)
                for r in rows:
                    key = np.packbits(r).tobytes()
                    if key not in self.seen[s]:
                        found.setdefault(key, r)
            keys = list(found)[:n]
            self.seen[s].update(keys)
            half = np.array([found[key] for key in keys])
        if middle:
            half = np.concatenate([np.ones((n, 1), dtype=bool), half], axis=1)
        self.count[s] += n
        return half

    def _add(self, s: int, n: int) -> None:
        """Draw n more pairs of stratum s."""
        if n > 0:
            half = self._draw(s, n)
            self.parts += [half, ~half]
            self.size += 2 * n

    def _enumerate(self, s: int) -> None:
        """The whole stratum s, in rank order (no random numbers drawn)."""
        m = self.m
        small = _unrank(m, s, np.arange(comb(m, s)))
        self.parts += [small] if 2 * s == m else [small, ~small]
        self.size += 2 * stratum_pairs(m, s)
        self.count[s] = stratum_pairs(m, s)
        self.taken[s] = np.arange(comb(m - 1, s - 1) if 2 * s == m else comb(m, s), dtype=np.int64)

    def target(self, budget: int) -> dict[int, int]:
        """Pairs per stratum of a design drawn in one go within `budget` (the outer strata whole while they fit)."""
        m = self.m
        out = {s: 0 for s in self.strata}
        left = budget
        k = 0
        while k < len(self.strata) and 2 * stratum_pairs(m, self.strata[k]) <= left:
            out[self.strata[k]] = stratum_pairs(m, self.strata[k])
            left -= 2 * stratum_pairs(m, self.strata[k])
            k += 1
        rest = self.strata[k:]
        if rest and left >= 2:
            caps = [stratum_pairs(m, s) for s in rest]
            out.update(zip(rest, _allocate(_shares(m, rest, self.allocation), caps, left // 2)))
        return out

    def grow(self, budget: int) -> np.ndarray:
        """All coalitions drawn so far, grown to at most `budget` (never shrunk).

        It heads for the design drawn in one go at `budget`: the strata that design holds whole are
        completed from the outside in while they fit, the pairs left go to the other strata in
        proportion to what they lack of it, and any pairs beyond that are spread as usual.
        """
        m = self.m
        left = (budget - self.size) // 2
        target = self.target(budget)
        want = {s: max(0, target[s] - self.count[s]) for s in self.strata}
        for s in self.strata:
            if want[s] == 0:
                continue
            if target[s] < stratum_pairs(m, s) or want[s] > left:
                break
            if self.count[s] == 0:
                self._enumerate(s)
            else:
                self._add(s, want[s])
            left -= want[s]
            want[s] = 0
        lacking = [s for s in self.strata if want[s] > 0]
        if lacking and left > 0:
            share = np.array([float(want[s]) for s in lacking])
            for s, n_pairs in zip(lacking, _allocate(share, [want[s] for s in lacking], left)):
                self._add(s, n_pairs)
                left -= n_pairs
        rest = [s for s in self.strata if self.count[s] < stratum_pairs(m, s)]
        if rest and left > 0:
            caps = [stratum_pairs(m, s) - self.count[s] for s in rest]
            for s, n_pairs in zip(rest, _allocate(_shares(m, rest, self.allocation), caps, left)):
                self._add(s, n_pairs)
        return self.masks


def coalition_design(m: int, max_evals: int, rng: np.random.Generator,
                     allocation: str = "mix") -> tuple[np.ndarray, bool]:
    """Paired coalitions for m players within max_evals: ((n, m) bool masks, everything enumerated?).

    Whole size strata {s, m-s} are enumerated from the outside in while they fit; the rest of
    the budget is drawn, in complementary pairs and without replacement, from the remaining
    strata: in proportion to their share of the Shapley kernel (allocation="kernel"), to their
    number of coalitions ("uniform": every remaining coalition equally likely) or half and half
    ("mix"), with at least one pair per stratum while the budget allows.
    """
    design = GrowingDesign(m, rng, allocation)
    masks = design.grow(max_evals)
    return masks, design.complete


def pair_units(masks: np.ndarray) -> np.ndarray:
    """For each coalition, the index of its complementary pair (the sampling unit), in order of first appearance."""
    m = masks.shape[1]
    sizes = masks.sum(axis=1)
    name = np.where(((2 * sizes < m) | ((2 * sizes == m) & masks[:, 0]))[:, None], masks, ~masks)
    _, first, inverse = np.unique(np.packbits(name, axis=1), axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


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
    sw = np.sqrt(weights)
    P = ones_basis(m) @ np.linalg.pinv((masks.astype(float) @ ones_basis(m)) * sw[:, None]) * sw[None, :]
    d = (1.0 - P @ sizes) / m
    return P, d


def ones_basis(m: int) -> np.ndarray:
    """(m, m - 1) orthonormal basis of the vectors whose entries sum to zero."""
    return np.linalg.qr(np.concatenate([np.ones((m, 1)), np.eye(m)[:, :-1]], axis=1))[0][:, 1:]
