"""Plausibility and diversity of counterfactuals, in the distance d of `space.py`.

  plausibility  knn(z) = mean of d(z, r) over the `n_neighbors` training rows r nearest to z among those
                the model puts in the target (class or range): how far z is from real rows that get the
                outcome it claims. Lower is more plausible.
  outlier score LOF(z): scikit-learn's LocalOutlierFactor(novelty=True) fitted on the same target rows in
                the embedding where Manhattan distance equals d; about 1 for a row as dense as its
                neighbours, clearly above 1 for an outlier.
  diversity     mean of d(z_a, z_b) over the pairs of counterfactuals returned for one query.
  sparsity      number of changed features (counted in search.py).
"""

from __future__ import annotations

import warnings

import numpy as np

from .space import FeatureSpace

__all__ = ["Plausibility", "TargetRows", "diversity"]


def diversity(space: FeatureSpace, Z: np.ndarray) -> float:
    """Mean pairwise d among the rows of Z (NaN for fewer than two rows)."""
    Z = np.atleast_2d(Z)
    if len(Z) < 2:
        return float("nan")
    D = space.pairwise(Z)
    iu = np.triu_indices(len(Z), 1)
    return float(D[iu].mean())


class TargetRows:
    """The training rows the model puts in one target, with nearest-neighbour and LOF models over them."""

    def __init__(self, space: FeatureSpace, rows: np.ndarray, n_neighbors: int) -> None:
        self.space = space
        self.rows = rows
        self.n_neighbors = int(n_neighbors)
        self._emb = space.embed(rows) if len(rows) else None
        self._lof = None

    def __len__(self) -> int:
        return len(self.rows)

    def knn(self, Z: np.ndarray) -> np.ndarray:
        """(n,) mean d to the nearest target rows (NaN when the model puts no training row in the target)."""
        Z = np.atleast_2d(Z)
        if self._emb is None:
            return np.full(len(Z), np.nan)
        if len(Z) == 0:
            return np.zeros(0)
        # brute force (scipy's cdist), in chunks of ~4 million distances: called once per search step
        # with a few dozen rows, where a threaded neighbour index costs more in start-up than it saves
        from scipy.spatial.distance import cdist
        E, P = self.space.embed(Z), self._emb
        kk = min(self.n_neighbors, len(P))
        step = max(1, int(4e6 // max(len(P), 1)))
        out = np.empty(len(E))
        for a in range(0, len(E), step):
            D = cdist(E[a:a + step], P, "cityblock")
            out[a:a + step] = np.partition(D, kk - 1, axis=1)[:, :kk].mean(axis=1)
        return out

    def nearest(self, x: np.ndarray, n: int) -> np.ndarray:
        """Encoded target rows nearest to x (at most n), nearest first."""
        if self._emb is None or n < 1:
            return np.zeros((0, self.space.m))
        order = np.argsort(self.space.distance(x, self.rows), kind="stable")[:n]
        return self.rows[order]

    def outlier_score(self, Z: np.ndarray) -> np.ndarray:
        """(n,) LOF of each row against the target rows (NaN with fewer than 3 target rows)."""
        Z = np.atleast_2d(Z)
        if len(self.rows) < 3 or len(Z) == 0:
            return np.full(len(Z), np.nan)
        if self._lof is None:
            from sklearn.neighbors import LocalOutlierFactor
            self._lof = LocalOutlierFactor(n_neighbors=min(20, len(self.rows) - 1), novelty=True,
                                           metric="manhattan")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._lof.fit(self.space.embed(self.rows))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -self._lof.score_samples(self.space.embed(Z))


class Plausibility:
    """Target rows per target, built on first use from the model's decisions on the training rows.

    Arguments:
      space        the `FeatureSpace`
      train_out    (n, outputs) the model's outputs on the (possibly subsampled) training rows
      train_rows   (n, features) those rows, encoded
      n_neighbors  how many nearest target rows the kNN distance averages over
    """

    def __init__(self, space: FeatureSpace, train_rows: np.ndarray, train_out: np.ndarray, n_neighbors: int) -> None:
        self.space = space
        self.train_rows = train_rows
        self.train_out = train_out
        self.n_neighbors = n_neighbors
        self._cache: dict[tuple, TargetRows] = {}

    def rows_for(self, key: tuple, reached: np.ndarray) -> TargetRows:
        """The `TargetRows` of a target (`reached`: which training rows the model puts in it)."""
        if key not in self._cache:
            self._cache[key] = TargetRows(self.space, self.train_rows[reached], self.n_neighbors)
        return self._cache[key]
