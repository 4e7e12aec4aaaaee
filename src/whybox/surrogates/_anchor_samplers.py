"""Where anchors come from: the candidate predicates of one input and the perturbation distribution D(.|A).

Tables (`TabularSampler`): numeric features are cut at training quantiles; a predicate is one side of
x's bin ("income > q_k" for an edge below x, "income <= q_k" for an edge at or above x), so an anchor
may take a wide interval ("income <= 40,000") rather than only x's own bin. Categorical features give
"colour == x's colour". z ~ D(.|A) is a training row drawn uniformly at random whose anchored features
are redrawn, one feature at a time, from that feature's training values that satisfy the anchor
(categorical: set to x's category). Non-anchored features keep the drawn row's values.

Texts (`TextSampler`): a predicate is "the text contains word w" (each distinct word of x). z ~ D(.|A)
keeps every occurrence of the anchored words and keeps each other word with probability `keep_prob`;
a dropped word is replaced by the masker's token (default "UNK", as in the anchors paper) or deleted.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..errors import InputError
from ..maskers.text import TextMasker

__all__ = ["Predicate", "TabularSampler", "TextSampler", "QUANTILES"]

QUANTILES = {"quartile": (0.25, 0.5, 0.75), "decile": tuple(np.round(np.arange(1, 10) / 10, 1))}


class Predicate(NamedTuple):
    """One condition an anchor may hold: feature index, kind ("gt", "le", "eq", "has") and value."""

    feature: int
    kind: str
    value: Any


def quantiles_of(discretize: str | Sequence[float]) -> tuple[float, ...]:
    """The cut points (as probabilities) for "quartile", "decile" or an explicit sequence in (0, 1)."""
    if isinstance(discretize, str):
        if discretize not in QUANTILES:
            raise InputError(f"unknown discretize {discretize!r}; use 'quartile', 'decile' or a list of "
                             "probabilities such as [0.2, 0.4, 0.6, 0.8]")
        return QUANTILES[discretize]
    qs = tuple(float(q) for q in discretize)
    if not qs or any(not 0 < q < 1 for q in qs):
        raise InputError(f"discretize probabilities must lie strictly between 0 and 1, got {list(qs)}")
    return tuple(sorted(set(qs)))


class TabularSampler:
    """Predicates and D(.|A) for one table (see the module docstring).

    Arguments:
      train       (n, features) training rows as `Model.prepare` gives them (float, or object if categorical)
      names       column names; categorical: the names of categorical columns
      quantiles   cut points as probabilities
      coverage_samples  size of the coverage sample (all rows when the data has no more)
      seed        seeds the coverage sample
    """

    def __init__(self, train: np.ndarray, names: Sequence[str], categorical: Sequence[str],
                 quantiles: Sequence[float], coverage_samples: int, seed: int) -> None:
        self.train = train
        self.names = tuple(names)
        self.is_cat = np.array([n in set(categorical) for n in self.names], dtype=bool)
        n = train.shape[0]
        self.sorted: dict[int, np.ndarray] = {}
        self.edges: dict[int, np.ndarray] = {}
        self.integral: dict[int, bool] = {}
        for j in np.flatnonzero(~self.is_cat):
            col = train[:, j].astype(float)
            finite = np.sort(col[np.isfinite(col)])
            self.sorted[j] = finite
            if finite.size == 0:
                self.edges[j] = np.zeros(0)
                continue
            # edges are training values (inverted CDF), so every interval between two edges holds data
            edges = np.unique(np.quantile(finite, quantiles, method="inverted_cdf"))
            self.edges[j] = edges[edges < finite[-1]]
            self.integral[j] = bool(np.all(finite == np.round(finite)))
        rng = np.random.default_rng(seed)
        idx = np.arange(n) if n <= coverage_samples else np.sort(rng.choice(n, coverage_samples, replace=False))
        self.coverage_rows = train[idx]

    # ----------------------------------------------------------------- predicates
    def predicates(self, x: np.ndarray) -> list[Predicate]:
        """Every predicate x satisfies: the sides of its bin per numeric feature, its category otherwise.

        A missing value (NaN/None) in x gives no predicate for that feature.
        """
        out = []
        for j in range(len(self.names)):
            v = x[j]
            if self.is_cat[j]:
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    out.append(Predicate(j, "eq", v))
                continue
            v = float(v)
            if math.isnan(v):
                continue
            for e in self.edges[j]:
                out.append(Predicate(j, "le", float(e)) if v <= e else Predicate(j, "gt", float(e)))
        return out

    def satisfied(self, rows: np.ndarray, preds: Sequence[Predicate]) -> np.ndarray:
        """(rows, predicates) bool: which rows satisfy which predicate."""
        out = np.zeros((rows.shape[0], len(preds)), dtype=bool)
        cache: dict[int, np.ndarray] = {}
        for p, (j, kind, value) in enumerate(preds):
            if kind == "eq":
                out[:, p] = rows[:, j].astype(object) == value
                continue
            if j not in cache:
                cache[j] = rows[:, j].astype(float)
            col = cache[j]
            with np.errstate(invalid="ignore"):
                out[:, p] = col > value if kind == "gt" else col <= value
        return out

    # ----------------------------------------------------------------- D(.|A)
    def sample(self, x: np.ndarray, anchor: Sequence[Predicate], n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows from D(.|A): random training rows, anchored features redrawn inside the anchor."""
        rows = self.train[rng.integers(0, self.train.shape[0], n)]
        bounds: dict[int, list] = {}
        for j, kind, value in anchor:
            if kind == "eq":
                rows[:, j] = value
                continue
            lo, hi = bounds.setdefault(j, [-np.inf, np.inf])
            bounds[j] = [max(lo, value), hi] if kind == "gt" else [lo, min(hi, value)]
        for j, (lo, hi) in bounds.items():
            s = self.sorted[j]
            a = 0 if lo == -np.inf else int(np.searchsorted(s, lo, side="right"))
            b = s.size if hi == np.inf else int(np.searchsorted(s, hi, side="right"))
            rows[:, j] = s[rng.integers(a, b, n)] if b > a else x[j]
        return rows

    def conditions(self, anchor: Sequence[Predicate]) -> tuple[tuple[str, str, Any], ...]:
        """The anchor in the user's units, in the order its predicates were added.

        On a feature whose training values are all whole numbers the bounds are whole numbers, and "> 1"
        reads ">= 2" when 2 is itself a training value (counts: "prior_defaults >= 2"; but "income > 30,000"
        stays as it is). Either form selects the same whole-number rows.
        """
        out = []
        for j, kind, value in anchor:
            name = self.names[j]
            if kind == "eq":
                out.append((name, "==", value))
            elif self.integral.get(j, False):
                k = int(math.floor(value))
                s = self.sorted[j]
                nxt = int(np.searchsorted(s, k + 1))
                if kind == "gt" and nxt < s.size and s[nxt] == k + 1:
                    out.append((name, ">=", k + 1))
                else:
                    out.append((name, ">" if kind == "gt" else "<=", k))
            else:
                out.append((name, ">" if kind == "gt" else "<=", value))
        return tuple(out)


class TextSampler:
    """Predicates and D(.|A) for one text (see the module docstring).

    Arguments:
      text       the text to explain
      masker     the `TextMasker` that drops or replaces words
      keep_prob  chance that a word outside the anchor is kept
      coverage_samples  size of the coverage sample of D
      rng        draws the coverage sample
    """

    def __init__(self, text: str, masker: TextMasker, keep_prob: float, coverage_samples: int,
                 rng: np.random.Generator) -> None:
        self.text = text
        self.masker = masker
        self.keep_prob = keep_prob
        words = masker.split(text)
        if not words:
            raise InputError(f"the text {text[:60]!r} has no words to anchor; pass a text with words in it")
        self.n_words = len(words)
        self.words: list[str] = []
        self.positions: list[np.ndarray] = []
        first: dict[str, int] = {}
        for i, w in enumerate(words):
            if w not in first:
                first[w] = len(self.words)
                self.words.append(w)
                self.positions.append(np.array([i]))
            else:
                k = first[w]
                self.positions[k] = np.append(self.positions[k], i)
        self.coverage_rows = rng.random((coverage_samples, self.n_words)) < keep_prob

    def predicates(self, x: Any = None) -> list[Predicate]:
        """One predicate per distinct word: "the text contains it" (feature = position of its first use)."""
        return [Predicate(int(pos[0]), "has", w) for w, pos in zip(self.words, self.positions)]

    def satisfied(self, masks: np.ndarray, preds: Sequence[Predicate]) -> np.ndarray:
        """(samples, predicates) bool: does the sampled text still contain each word (any occurrence)?"""
        index = {w: k for k, w in enumerate(self.words)}
        return np.column_stack([masks[:, self.positions[index[p.value]]].any(axis=1) for p in preds])

    def sample(self, x: Any, anchor: Sequence[Predicate], n: int, rng: np.random.Generator) -> list[str]:
        """n texts from D(.|A): anchored words kept, each other word kept with probability keep_prob."""
        masks = rng.random((n, self.n_words)) < self.keep_prob
        index = {w: k for k, w in enumerate(self.words)}
        for p in anchor:
            masks[:, self.positions[index[p.value]]] = True
        return self.masker.fill(self.text, masks)

    def conditions(self, anchor: Sequence[Predicate]) -> tuple[tuple[str, str, Any], ...]:
        """(position of the word's first use, "contains", word) per anchored word, in reading order."""
        return tuple((str(p.feature), "contains", p.value) for p in sorted(anchor, key=lambda p: p.feature))
