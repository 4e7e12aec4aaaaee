"""Seed stability of a sampled explanation: does a different seed tell the same story?

The same input is explained once per seed; the answer is summarised as the mean pairwise Jaccard
overlap of the top-k features, J(A, B) = |A ∩ B| / |A ∪ B|, and the mean pairwise Spearman rank
correlation of the weight vectors.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import InputError
from ..results import Attribution

__all__ = ["Stability", "stability"]


@dataclass(frozen=True)
class Stability:
    """How much an explanation of one input changes with the seed.

    jaccard       mean pairwise top-k Jaccard overlap over the seeds (1: the same top features every time)
    spearman      mean pairwise Spearman rank correlation of the weights (nan when undefined, e.g. constant)
    top_features  per seed, the top-k feature names (or indices) by |weight|, largest first
    seeds         the seeds used
    top_k         k
    weights       (seeds, features) the weights compared (superpixel weights for images)
    output        the output (class) compared, or None for a single-output model
    pairwise_jaccard  (seeds, seeds) matrix of the top-k overlaps
    """

    jaccard: float
    spearman: float
    top_features: list[list[Any]]
    seeds: list[int]
    top_k: int
    weights: np.ndarray
    output: Any = None
    pairwise_jaccard: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __repr__(self) -> str:
        return (f"Stability(jaccard={self.jaccard:.3f}, spearman={self.spearman:.3f}, top_k={self.top_k}, "
                f"seeds={len(self.seeds)})")


def _top(w: np.ndarray, k: int) -> list[int]:
    """Indices of the k largest |w| among the non-zero weights (ties: lower index first)."""
    order = np.argsort(-np.abs(w), kind="stable")
    return [int(j) for j in order[:k] if w[j] != 0]


def _row_weights(attr: Attribution, output: int | str | None) -> tuple[np.ndarray, list[Any], Any]:
    """The first row's weights as a flat vector, the feature labels, and the output picked."""
    one = attr[0] if attr.has_rows else attr
    picked = None
    if one.has_outputs:
        names = list(one.output_names) if isinstance(one.output_names, tuple) else None
        if output is None:
            pred = attr.meta.get("model_prediction")
            pred = np.asarray(pred[0] if pred is not None else np.abs(one.values).reshape(-1, one.values.shape[-1])
                              .sum(axis=0), dtype=float)
            picked = int(np.argmax(pred))
        elif isinstance(output, str):
            if names is None or output not in names:
                raise InputError(f"unknown output {output!r}; the outputs are {names}")
            picked = names.index(output)
        else:
            picked = int(output)
        one = one[..., picked]
        picked = names[picked] if names is not None else picked
    elif output is not None and output not in (0, one.output_names):
        raise InputError(f"output={output!r} given, but the explanation has a single output; leave output out")
    seg = attr.meta.get("segment_weights")
    if seg is not None:       # images: compare superpixels, not pixels
        w = np.asarray(seg[0], dtype=float)
        if w.ndim == 2:
            w = w[:, names.index(picked) if isinstance(picked, str) else picked]
        return w, list(range(len(w))), picked
    w = np.asarray(one.values, dtype=float).ravel()
    labels = list(one.feature_names) if isinstance(one.feature_names, tuple) else list(range(len(w)))
    return w, labels, picked


def stability(explainer: Any, x: Any, seeds: Iterable[int] = range(10), top_k: int = 5,
              output: int | str | None = None, **explain_kwargs: Any) -> Stability:
    """Explain x once per seed and measure how much the top features agree.

    Arguments:
      explainer       a seeded explainer with a `seed` attribute and `explain(X, ...)` -> Attribution
                      (e.g. `Lime`); it is copied per seed, never changed
      x               one input: a one-row table, a string, or a batch of one image
      seeds           the seeds to compare (at least 2)
      top_k           how many top features (by |weight|) to compare
      output          which output to compare when there are several (default: the one the model
                      predicts highest at x)
      explain_kwargs  passed to `explain`, e.g. num_samples=5000
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise InputError(f"stability compares explanations across seeds; pass at least 2 seeds, got {seeds}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"top_k must be a whole number >= 1, got {top_k!r}")
    if not hasattr(explainer, "seed") or not hasattr(explainer, "explain"):
        raise InputError(f"{type(explainer).__name__} has no `seed` and `explain`; pass a seeded explainer "
                         "such as Lime")
    weights, tops, labels, picked = [], [], None, None
    for s in seeds:
        e = copy.copy(explainer)
        e.seed = s
        attr = e.explain(x, **explain_kwargs)
        if attr.has_rows and len(attr) != 1:
            raise InputError(f"x holds {len(attr)} inputs; stability measures one input — pass a single row, "
                             "text or image (batch of one)")
        w, names, picked = _row_weights(attr, output if picked is None else picked)
        if weights and len(w) != len(weights[0]):
            raise InputError("the explanations have different numbers of features across seeds; stability "
                             "needs the features to stay the same")
        weights.append(w)
        labels = names
        tops.append(_top(w, int(top_k)))
    W = np.array(weights)
    n = len(seeds)
    J = np.ones((n, n))
    rhos = []
    for a, b in itertools.combinations(range(n), 2):
        A, B = set(tops[a]), set(tops[b])
        J[a, b] = J[b, a] = len(A & B) / len(A | B) if A | B else 1.0
        rhos.append(_spearman(W[a], W[b]))
    pairs = J[np.triu_indices(n, 1)]
    rho = float(np.nanmean(rhos)) if np.isfinite(rhos).any() else float("nan")
    return Stability(jaccard=float(pairs.mean()), spearman=rho, top_features=[[labels[j] for j in t] for t in tops],
                     seeds=seeds, top_k=int(top_k), weights=W, output=picked, pairwise_jaccard=J)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); nan when either vector is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])
