"""KL-LUCB: find the m best of n Bernoulli arms with confidence 1 - delta (Kaufmann & Kalyanakrishnan, 2013).

The confidence bounds are Bernoulli KL bounds: with N pulls and empirical mean p,
U = max{q >= p : N d(p, q) <= beta} and L = min{q <= p : N d(p, q) <= beta}, where
d(p, q) = p log(p/q) + (1-p) log((1-p)/(1-q)). They are computed here by bisection.

Anchors uses this to pick, among candidate rules, the `beam_size` with the highest precision.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

__all__ = ["kl_bernoulli", "kl_upper_bound", "kl_lower_bound", "exploration_rate", "kl_lucb", "LucbResult"]

_TINY = 1e-15
_TINY_LOG = 1e-300
_ONE_BELOW = np.nextafter(1.0, 0.0)
_BISECTIONS = 60  # halves [0, 1] to below 1e-18: the bound is exact to float precision


def kl_bernoulli(p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """d(p, q) = p log(p/q) + (1-p) log((1-p)/(1-q)), elementwise, with 0 log 0 = 0 (q clipped into (0, 1))."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    q = np.clip(np.asarray(q, dtype=float), _TINY, 1.0 - _TINY)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1.0 - p) * np.log((1.0 - p) / (1.0 - q)), 0.0)
    return a + b


def _bisect(p: np.ndarray, level: np.ndarray, lo: np.ndarray, hi: np.ndarray, upper: bool) -> np.ndarray:
    """Bisection for the q on one side of p where d(p, q) = level; returns the conservative end."""
    with np.errstate(divide="ignore", invalid="ignore"):
        const = np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            # d(p, mid) = p log p + (1-p) log(1-p) - p log mid - (1-p) log(1-mid); mid reaches 0 or 1 only
            # when p does, and there the clip keeps the vanishing term 0 * log(...) at 0
            q = np.clip(mid, _TINY_LOG, _ONE_BELOW)
            d = const - p * np.log(q) - (1 - p) * np.log1p(-q)
            over = d > level
            if upper:
                hi, lo = np.where(over, mid, hi), np.where(over, lo, mid)
            else:
                lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    return hi if upper else lo


def kl_upper_bound(p: np.ndarray | float, level: np.ndarray | float) -> np.ndarray:
    """max{q in [p, 1] : d(p, q) <= level}, by bisection (elementwise; 1 where d(p, 1) <= level).

    Arguments:
      p      empirical means in [0, 1]
      level  beta / pulls, >= 0
    """
    p, level = np.broadcast_arrays(np.clip(np.asarray(p, dtype=float), 0.0, 1.0), np.asarray(level, dtype=float))
    return _bisect(p, level, p.copy(), np.ones_like(p), upper=True)


def kl_lower_bound(p: np.ndarray | float, level: np.ndarray | float) -> np.ndarray:
    """min{q in [0, p] : d(p, q) <= level}, by bisection (elementwise; 0 where d(p, 0) <= level).

    Arguments:
      p      empirical means in [0, 1]
      level  beta / pulls, >= 0
    """
    p, level = np.broadcast_arrays(np.clip(np.asarray(p, dtype=float), 0.0, 1.0), np.asarray(level, dtype=float))
    return _bisect(p, level, np.zeros_like(p), p.copy(), upper=False)


def exploration_rate(t: int, n_arms: int, delta: float, alpha: float = 1.1, k1: float = 405.5) -> float:
    """beta(t, delta) = log(k1 n t^alpha / delta) + log log(k1 n t^alpha / delta).

    The first term is the rate of Kaufmann & Kalyanakrishnan's Theorem 1 (alpha > 1, k1 > 1 + 1/(alpha-1));
    the log log term makes it a little more conservative, as in the anchors reference implementation.
    """
    base = math.log(k1 * n_arms * t ** alpha / delta)
    return base + math.log(base)


class LucbResult(NamedTuple):
    """chosen: the m arms, best first; positives/samples: per-arm totals; rounds: pulls of pairs made."""

    chosen: np.ndarray
    positives: np.ndarray
    samples: np.ndarray
    rounds: int


def kl_lucb(pull: Callable[[np.ndarray, np.ndarray], np.ndarray], positives: np.ndarray, samples: np.ndarray,
            m: int, *, delta: float, epsilon: float, batch_size: int = 1,
            max_rounds: int | None = None) -> LucbResult:
    """The m arms with the highest means, each within epsilon of the m-th best, with probability >= 1 - delta.

    Each round takes J = the m best empirical means, u = the arm outside J with the highest upper bound and
    l = the arm inside J with the lowest lower bound, and stops when U_u - L_l < epsilon; otherwise it
    pulls u and l `batch_size` times each (in one call).

    Arguments:
      pull        pull(arms, counts) -> successes per arm; may raise to stop early (the caller's budget)
      positives   successes so far per arm (arms never pulled are pulled `batch_size` times first)
      samples     pulls so far per arm
      m           how many arms to return
      delta       allowed error probability; epsilon: tolerance on the means
      batch_size  pulls of each of the two arms per round
      max_rounds  stop after this many rounds even if undecided (None: no limit)
    """
    pos = np.asarray(positives, dtype=float).copy()
    n = np.asarray(samples, dtype=float).copy()
    k = pos.shape[0]
    if m < 1:
        raise ValueError(f"m must be at least 1, got {m}")
    fresh = np.flatnonzero(n == 0)
    if fresh.size and m < k:
        counts = np.full(fresh.size, batch_size)
        pos[fresh] += np.asarray(pull(fresh, counts), dtype=float)
        n[fresh] += counts
    rounds = 0
    while m < k:
        means = pos / np.maximum(n, 1)
        order = np.argsort(-means, kind="stable")
        top, rest = order[:m], order[m:]
        beta = exploration_rate(rounds + 1, k, delta)
        ub = kl_upper_bound(means[rest], beta / n[rest])
        lb = kl_lower_bound(means[top], beta / n[top])
        if ub.max() - lb.min() < epsilon or (max_rounds is not None and rounds >= max_rounds):
            break
        arms = np.array([rest[int(np.argmax(ub))], top[int(np.argmin(lb))]])
        counts = np.full(2, batch_size)
        pos[arms] += np.asarray(pull(arms, counts), dtype=float)
        n[arms] += counts
        rounds += 1
    means = pos / np.maximum(n, 1)
    order = np.argsort(-means, kind="stable")
    return LucbResult(chosen=order[:m], positives=pos, samples=n, rounds=rounds)
