"""LIME's neighbourhoods: perturbed table rows from training statistics, and on/off masks for words or superpixels.

Tables. The perturbations are drawn from the training data's marginals, independently of the
explained row (as lime does by default); only the interpretable representation depends on it. So
one pool of perturbed rows, evaluated once, serves every row of a batch, and a row's explanation
does not depend on which other rows are in the batch. The pool is randomised quasi-Monte Carlo
over each column's empirical distribution: column j of sample i takes the training quantile at
p_ij, with p the points of a scrambled Sobol' sequence, so every quartile bin (and every category)
appears in proportion to its training frequency, the values spread evenly inside it, and the
columns' combinations fill the space evenly (on a 100-tree forest this cut the seed-to-seed spread
of the coefficients five-fold against independent draws, and a Latin hypercube alone did not help).

Masks (text, images). The number of removed features is spread evenly over 1..m (lime draws it
uniformly), the removed set is random, and every mask comes with its complement (antithetic
pairs): each feature is on in exactly half of the perturbed samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri

from ..errors import InputError

__all__ = ["TabularSampler", "binary_design", "cosine_distance"]


def _positions(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """(n, m) randomised quasi-Monte Carlo positions in (0, 1): the first n points of a scrambled Sobol' sequence.

    Each column is stratified like a Latin hypercube and the columns jointly fill the cube far more
    evenly than independent draws, so the surrogate's coefficients vary much less from seed to seed.
    """
    from scipy.stats import qmc

    k = max(1, int(np.ceil(np.log2(max(n, 2)))))
    points = qmc.Sobol(d=m, scramble=True, seed=rng).random_base2(k)[:n]
    return np.clip(points, 1e-12, 1 - 1e-12)


class TabularSampler:
    """Training statistics of a table and the perturbed rows drawn from them.

    Arguments:
      data      (rows, m) training array from `Model.prepare` (float, or object with categorical columns)
      names     column names
      categories  name -> allowed values for the categorical columns
      sampling  "quartile" (interpretable feature: "in the same quartile bin as x") or "normal"
                (numeric features drawn from N(mean, sd), interpretable feature: the standardised value)
    """

    def __init__(self, data: np.ndarray, names: tuple[str, ...], categories: dict[str, list],
                 sampling: str) -> None:
        self.sampling = sampling
        self.names = names
        self.m = len(names)
        self.object = data.dtype == object
        self.categorical = np.array([n in categories for n in names], dtype=bool)
        self.categories = [list(categories.get(n, [])) for n in names]
        self.sorted_values: list[np.ndarray] = []   # training column sorted (numeric) or its codes sorted
        self.sorted_codes: list[np.ndarray] = []    # interpretable code of each sorted training value
        self.thresholds: list[np.ndarray] = []
        self.mean = np.zeros(self.m)
        self.sd = np.ones(self.m)
        for j in range(self.m):
            col = data[:, j]
            if self.categorical[j]:
                codes = self._category_codes(col, j)
                s = np.sort(codes)
                self.sorted_values.append(s)
                self.sorted_codes.append(s.astype(float))
                self.thresholds.append(np.array([]))
                continue
            col = col.astype(float)
            s = np.sort(col)  # NaN last
            finite = s[np.isfinite(s)]
            if finite.size == 0:
                raise InputError(f"column {names[j]!r} of the training data has no finite values; LIME samples "
                                 "from the training data, so drop the column or fill it")
            self.mean[j] = finite.mean()
            sd = finite.std()
            self.sd[j] = sd if sd > 0 else 1.0
            thr = np.unique(np.quantile(finite, [0.25, 0.5, 0.75]))
            self.thresholds.append(thr)
            self.sorted_values.append(s)
            self.sorted_codes.append(self._bins(s, j))

    # ------------------------------------------------------------------ codes
    def _category_codes(self, col: np.ndarray, j: int) -> np.ndarray:
        lookup = {v: i for i, v in enumerate(self.categories[j])}
        try:
            return np.array([lookup[v] for v in col], dtype=np.int64)
        except KeyError as e:
            raise InputError(f"unknown category {e.args[0]!r} in column {self.names[j]!r}") from None

    def _bins(self, values: np.ndarray, j: int) -> np.ndarray:
        """Quartile bin of each value: 0 for <= q1 ... len(thresholds) above the last; missing: its own bin."""
        thr = self.thresholds[j]
        b = np.searchsorted(thr, values, side="left").astype(float)
        b[np.isnan(values)] = len(thr) + 1
        return b

    def codes(self, arr: np.ndarray) -> np.ndarray:
        """(rows, m) interpretable codes: bins (quartile) or standardised values (normal); category indices."""
        out = np.empty((arr.shape[0], self.m))
        for j in range(self.m):
            col = arr[:, j]
            if self.categorical[j]:
                out[:, j] = self._category_codes(col, j)
            elif self.sampling == "quartile":
                out[:, j] = self._bins(col.astype(float), j)
            else:
                v = col.astype(float)
                if np.isnan(v).any():
                    raise InputError(f"column {self.names[j]!r} has a missing value, which sampling='normal' cannot "
                                     "place; use sampling='quartile' (missing values get a bin of their own)")
                out[:, j] = (v - self.mean[j]) / self.sd[j]
        return out

    # ------------------------------------------------------------------ sampling
    def pool(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n perturbed rows: (values in the model's array form, interpretable codes), both (n, m)."""
        p = _positions(rng, n, self.m)
        values = np.empty((n, self.m), dtype=object if self.object else float)
        codes = np.empty((n, self.m))
        for j in range(self.m):
            if self.sampling == "normal" and not self.categorical[j]:
                z = ndtri(p[:, j])
                codes[:, j] = z
                values[:, j] = self.mean[j] + self.sd[j] * z
                continue
            s = self.sorted_values[j]
            idx = np.minimum((p[:, j] * len(s)).astype(np.int64), len(s) - 1)
            codes[:, j] = self.sorted_codes[j][idx]
            if self.categorical[j]:
                cats = np.empty(len(self.categories[j]), dtype=object)
                cats[:] = self.categories[j]
                values[:, j] = cats[s[idx]]
            else:
                values[:, j] = s[idx]
        return values, codes

    def design(self, codes: np.ndarray, x_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interpretable rows Z (n, m), squared distances to x (n,), and x's own row z_x (m,).

        quartile: z_j = 1 when the sample is in x's bin (category); d^2 = number of features that differ.
        normal: numeric z_j = standardised value, categorical z_j = 1 when equal to x's; d^2 = |z - z_x|^2.
        """
        same = (codes == x_codes).astype(float)
        if self.sampling == "quartile":
            return same, self.m - same.sum(axis=1), np.ones(self.m)
        Z = np.where(self.categorical, same, codes)
        z_x = np.where(self.categorical, 1.0, x_codes)
        return Z, ((Z - z_x) ** 2).sum(axis=1), z_x

    def describe(self, x: np.ndarray, x_codes: np.ndarray) -> list[str]:
        """What each interpretable feature of row x says, e.g. "0.1 < age <= 3.2" or "colour == red"."""
        out = []
        for j, name in enumerate(self.names):
            if self.categorical[j]:
                out.append(f"{name} == {x[j]}")
            elif self.sampling == "normal":
                out.append(f"{name} (standardised: (value - {self.mean[j]:.4g}) / {self.sd[j]:.4g})")
            else:
                thr, b = self.thresholds[j], int(x_codes[j])
                if b > len(thr):
                    out.append(f"{name} is missing")
                elif len(thr) == 0:
                    out.append(f"{name} (constant in the training data)")
                elif b == 0:
                    out.append(f"{name} <= {thr[0]:.4g}")
                elif b == len(thr):
                    out.append(f"{name} > {thr[-1]:.4g}")
                else:
                    out.append(f"{thr[b - 1]:.4g} < {name} <= {thr[b]:.4g}")
        return out


def binary_design(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """(n, m) keep-masks: row 0 keeps everything (x itself); the rest come in complementary pairs.

    The number removed is spread evenly over 1..m, the removed features are a random subset.
    """
    masks = np.ones((n, m), dtype=bool)
    rest = n - 1
    if rest <= 0:
        return masks
    half = (rest + 1) // 2
    k = 1 + np.floor((np.arange(half) + rng.random(half)) * m / half).astype(np.int64)
    k = rng.permutation(np.minimum(k, m))
    r = rng.random((half, m))
    kth = np.sort(r, axis=1)[np.arange(half), k - 1]
    off = r <= kth[:, None]                  # exactly k features removed in each sample
    pairs = np.empty((2 * half, m), dtype=bool)
    pairs[0::2] = ~off
    pairs[1::2] = off                        # the complement: keeps exactly what the first removed
    masks[1:] = pairs[:rest]
    return masks


def cosine_distance(masks: np.ndarray) -> np.ndarray:
    """Cosine distance of each binary keep-mask to the all-ones mask: 1 - sqrt(kept / m); 1 when nothing is kept."""
    m = masks.shape[1]
    return 1.0 - np.sqrt(masks.sum(axis=1) / m)


def dedupe(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct masks and, for each mask, the index of its distinct copy (the model sees each once)."""
    packed = np.packbits(masks, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")       # keep first-seen order (x itself stays first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return masks[first[order]], rank[inverse.ravel()]


def as_text_list(X: Any) -> list[str] | None:
    """X as a list of texts when it is text (a string, or a sequence of strings), else None."""
    if isinstance(X, str):
        return [X]
    if hasattr(X, "tolist") and not hasattr(X, "columns") and getattr(X, "dtype", None) is not None \
            and getattr(X.dtype, "kind", "") in "OU" and np.ndim(X) == 1:
        X = X.tolist()
    if isinstance(X, (list, tuple)) and X and all(isinstance(t, str) for t in X):
        return list(X)
    return None
