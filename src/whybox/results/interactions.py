"""`Interactions`: pairwise interaction matrices or statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._json import _names, decode_array, encode_array, to_jsonable
from .attribution import Attribution


@dataclass(frozen=True, eq=False)
class Interactions:
    """Pairwise interactions between features.

    values         (n, M, M[, outputs]) per-row interaction matrices (SHAP interaction values: off-diagonal
                   entries split each pair's interaction in half, the diagonal holds main effects, and each
                   row of a matrix sums to that feature's Shapley value), or (M, M) for a global statistic
    base_values    (n[, outputs]) as in `Attribution`, or None for a global statistic
    data           (n, M) the explained rows, or None
    feature_names  names of the M features
    output_names   names of the outputs axis, or None for a single output
    method, meta   as in `Attribution`
    has_outputs    True while the trailing outputs axis is present
    """

    values: np.ndarray
    base_values: np.ndarray | None = None
    data: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] | str | None = None
    method: str = ""
    meta: dict = field(default_factory=dict)
    has_outputs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", np.asarray(self.values))
        if self.base_values is not None:
            object.__setattr__(self, "base_values", np.asarray(self.base_values))
        if self.data is not None:
            object.__setattr__(self, "data", np.asarray(self.data))
        object.__setattr__(self, "feature_names", _names(self.feature_names) or ())
        object.__setattr__(self, "output_names", _names(self.output_names))
        m = self.values.shape[-2] if self.has_outputs else self.values.shape[-1]
        if self.feature_names and len(self.feature_names) != m:
            raise ValueError(f"{len(self.feature_names)} feature names for {m} features")

    @property
    def per_row(self) -> bool:
        return self.values.ndim - int(self.has_outputs) == 3

    def __len__(self) -> int:
        return self.values.shape[0] if self.per_row else 0

    def shapley_values(self) -> Attribution:
        """The Shapley values the interaction matrices sum to (row sums), as an `Attribution`."""
        if not self.per_row or self.base_values is None:
            raise ValueError("only per-row SHAP interaction values sum to Shapley values")
        return Attribution(values=self.values.sum(axis=2), base_values=self.base_values, data=self.data,
                           feature_names=self.feature_names, output_names=self.output_names,
                           method=self.method, meta=dict(self.meta), has_outputs=self.has_outputs)

    def main_effects(self) -> np.ndarray:
        """The diagonal: (n, M[, outputs])."""
        idx = np.arange(self.values.shape[1])
        return self.values[:, idx, idx]

    def mean_abs(self) -> np.ndarray:
        """(M, M[, outputs]) mean |value| over rows: a global interaction matrix."""
        return np.abs(self.values).mean(axis=0) if self.per_row else np.abs(self.values)

    def to_dict(self) -> dict:
        return {"type": "Interactions", "values": encode_array(self.values),
                "base_values": encode_array(self.base_values), "data": encode_array(self.data),
                "feature_names": list(self.feature_names),
                "output_names": list(self.output_names) if isinstance(self.output_names, tuple) else self.output_names,
                "method": self.method, "meta": to_jsonable(self.meta), "has_outputs": self.has_outputs}

    @classmethod
    def from_dict(cls, d: dict) -> "Interactions":
        if d.get("type", "Interactions") != "Interactions":
            raise ValueError(f"expected an Interactions dict, got type {d.get('type')!r}")
        return cls(values=decode_array(d["values"]), base_values=decode_array(d.get("base_values")),
                   data=decode_array(d.get("data")), feature_names=d.get("feature_names", ()),
                   output_names=d.get("output_names"), method=d.get("method", ""), meta=d.get("meta", {}),
                   has_outputs=d.get("has_outputs", False))

    def __repr__(self) -> str:
        return f"Interactions(method={self.method!r}, shape={self.values.shape}, outputs={self.output_names!r})"
