"""Agreement between two explanations of the same inputs — the disagreement problem (Krishna et al. 2022).

Per row: Spearman rank correlation of the feature scores, top-k overlap (Jaccard) of the k most important
features, and sign agreement on the features both put in their top k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy.stats import rankdata

from ..errors import InputError
from ..results import Attribution

__all__ = ["AgreementResult", "AgreementMatrix", "agreement", "agreement_matrix"]


@dataclass(frozen=True, eq=False)
class AgreementResult:
    """How two attributions of the same rows agree, one entry per row.

    rank_correlation  (n,) Spearman correlation of the scores (|values| unless signed=True); NaN for a row
                      where either attribution is constant
    top_k_jaccard     (n,) |top_k(a) ∩ top_k(b)| / |top_k(a) ∪ top_k(b)| by |value|
    sign_agreement    (n,) share of the features in both top-k sets whose values have the same sign
                      (NaN when the sets do not meet)
    top_k, signed     the settings used
    """

    rank_correlation: np.ndarray
    top_k_jaccard: np.ndarray
    sign_agreement: np.ndarray
    top_k: int
    signed: bool
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Means over rows (NaN rows left out)."""
        def m(a: np.ndarray) -> float:
            return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
        return {"rank_correlation": m(self.rank_correlation), "top_k_jaccard": m(self.top_k_jaccard),
                "sign_agreement": m(self.sign_agreement), "top_k": self.top_k, "signed": self.signed}

    def to_dict(self) -> dict:
        def lst(a: np.ndarray) -> list:
            return [None if not np.isfinite(v) else float(v) for v in a]
        return {"type": "AgreementResult", "rank_correlation": lst(self.rank_correlation),
                "top_k_jaccard": lst(self.top_k_jaccard), "sign_agreement": lst(self.sign_agreement),
                "top_k": self.top_k, "signed": self.signed, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "AgreementResult":
        def arr(v: list) -> np.ndarray:
            return np.array([np.nan if x is None else x for x in v], dtype=float)
        return cls(arr(d["rank_correlation"]), arr(d["top_k_jaccard"]), arr(d["sign_agreement"]), int(d["top_k"]),
                   bool(d["signed"]), d.get("meta", {}))

    def __repr__(self) -> str:
        s = self.summary()
        return (f"AgreementResult(rows={len(self.rank_correlation)}, rank_correlation={s['rank_correlation']:.3f}, "
                f"top_{self.top_k}_jaccard={s['top_k_jaccard']:.3f}, sign_agreement={s['sign_agreement']:.3f})")


@dataclass(frozen=True, eq=False)
class AgreementMatrix:
    """Pairwise agreement of several methods, each entry the mean over rows.

    names             the methods, in matrix order
    rank_correlation  (m, m) mean Spearman correlation
    top_k_jaccard     (m, m) mean top-k Jaccard overlap
    sign_agreement    (m, m) mean sign agreement on the shared top-k
    """

    names: tuple[str, ...]
    rank_correlation: np.ndarray
    top_k_jaccard: np.ndarray
    sign_agreement: np.ndarray
    top_k: int
    signed: bool

    def to_frame(self, metric: str = "rank_correlation") -> Any:
        """One matrix as a labelled DataFrame."""
        import pandas as pd
        if metric not in ("rank_correlation", "top_k_jaccard", "sign_agreement"):
            raise InputError(f"unknown metric {metric!r}; choose rank_correlation, top_k_jaccard or sign_agreement")
        return pd.DataFrame(getattr(self, metric), index=list(self.names), columns=list(self.names))

    def to_dict(self) -> dict:
        """JSON-safe form; NaN (no comparable rows) becomes None."""
        def mat(a: np.ndarray) -> list:
            return [[None if not np.isfinite(v) else float(v) for v in r] for r in a]
        return {"type": "AgreementMatrix", "names": list(self.names),
                "rank_correlation": mat(self.rank_correlation), "top_k_jaccard": mat(self.top_k_jaccard),
                "sign_agreement": mat(self.sign_agreement), "top_k": self.top_k, "signed": self.signed}

    @classmethod
    def from_dict(cls, d: dict) -> "AgreementMatrix":
        def arr(v: list) -> np.ndarray:
            return np.array([[np.nan if x is None else x for x in r] for r in v], dtype=float)
        return cls(tuple(d["names"]), arr(d["rank_correlation"]), arr(d["top_k_jaccard"]), arr(d["sign_agreement"]),
                   int(d["top_k"]), bool(d["signed"]))

    def __repr__(self) -> str:
        return f"AgreementMatrix(names={list(self.names)}, top_k={self.top_k}, signed={self.signed})"


def _flat(a: Any, what: str, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(n, features) values and an optional (n, features) mask of real (unpadded) features."""
    if isinstance(a, Attribution):
        if output is not None and a.has_outputs:
            a = a[..., output]
        elif a.has_outputs:
            raise InputError(f"{what} has an outputs axis ({a.output_names}); pass output= to compare one output")
        if not a.has_rows:
            raise InputError(f"{what} is a single row; pass the batch attribution (or attr[i:i+1])")
        values, mask = a.values, a.mask
    else:
        values, mask = np.asarray(a, dtype=float), None
        if values.ndim < 2:
            raise InputError(f"{what} must have a rows axis: (n, features...), got shape {values.shape}")
    values = np.asarray(values, dtype=float).reshape(values.shape[0], -1)
    if not np.isfinite(values).all():
        raise InputError(f"{what} has NaN or infinite values")
    return values, None if mask is None else mask.reshape(mask.shape[0], -1)


def _top(v: np.ndarray, k: int) -> set:
    return set(np.argsort(-np.abs(v), kind="stable")[:k].tolist())


def agreement(a: Any, b: Any, *, top_k: int = 5, signed: bool = False, output: Any = None) -> AgreementResult:
    """Per-row agreement of two attributions of the same inputs: Spearman ρ, top-k Jaccard, top-k sign agreement.

    Arguments:
      a, b     two `Attribution`s (or value arrays) of the same rows, same shape
      top_k    size of the top sets (by |value|); capped at each row's number of features
      signed   rank the signed values (True) rather than |values| (False, the default: importance ranks)
      output   which output to compare when the attributions have an outputs axis
    """
    va, ma = _flat(a, "the first attribution", output)
    vb, mb = _flat(b, "the second attribution", output)
    if va.shape != vb.shape:
        raise InputError(f"the attributions have different shapes {va.shape} and {vb.shape}; compare "
                         "explanations of the same inputs")
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"top_k must be a positive integer, got {top_k!r}")
    mask = ma if ma is not None else mb
    if ma is not None and mb is not None and not np.array_equal(ma, mb):
        raise InputError("the two attributions pad different tokens; explain the same texts with the same words")
    n = va.shape[0]
    rho, jac, sign = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        x, y = va[i], vb[i]
        if mask is not None:
            x, y = x[mask[i]], y[mask[i]]
        if x.size == 0:
            continue
        sx, sy = (x, y) if signed else (np.abs(x), np.abs(y))
        rx, ry = rankdata(sx), rankdata(sy)
        if rx.std() > 0 and ry.std() > 0:
            rho[i] = float(np.corrcoef(rx, ry)[0, 1])
        k = min(int(top_k), x.size)
        ta, tb = _top(x, k), _top(y, k)
        jac[i] = len(ta & tb) / len(ta | tb)
        both = sorted(ta & tb)
        if both:
            sign[i] = float(np.mean(np.sign(x[both]) == np.sign(y[both])))
    return AgreementResult(rho, jac, sign, int(top_k), bool(signed),
                           meta={"rows": n, "method_a": getattr(a, "method", ""), "method_b": getattr(b, "method", "")})


def agreement_matrix(attributions: Mapping[str, Any], *, top_k: int = 5, signed: bool = False,
                     output: Any = None) -> AgreementMatrix:
    """Pairwise `agreement` of several methods' attributions, each entry the mean over rows.

    Arguments:
      attributions  {name: Attribution or values} of the same inputs (at least two)
      top_k, signed, output  as in `agreement`
    Returns an `AgreementMatrix` with (m, m) symmetric matrices, ones on the diagonal (for rows that are
    not constant).
    """
    if not isinstance(attributions, Mapping) or len(attributions) < 2:
        raise InputError("pass a dict {name: attribution} with at least two methods to compare")
    names = tuple(str(k) for k in attributions)
    items = list(attributions.values())
    m = len(items)
    mats = {k: np.eye(m) for k in ("rank_correlation", "top_k_jaccard", "sign_agreement")}
    for i in range(m):
        for j in range(i + 1, m):
            s = agreement(items[i], items[j], top_k=top_k, signed=signed, output=output).summary()
            for key, mat in mats.items():
                mat[i, j] = mat[j, i] = s[key]
    return AgreementMatrix(names, mats["rank_correlation"], mats["top_k_jaccard"], mats["sign_agreement"],
                           int(top_k), bool(signed))
