"""`Importance`: one global score per feature."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from ._json import _names, decode_array, encode_array, to_jsonable


@dataclass(frozen=True, eq=False)
class Importance:
    """One global score per feature.

    scores         (features,) the importance
    spread         (features,) its uncertainty (std over repeats, or standard error)
    repeats        (repeats, features) raw per-repeat (or per-row) scores, or None
    feature_names  names of the features
    method         how it was computed
    meta           JSON-safe details
    """

    scores: np.ndarray
    spread: np.ndarray | None = None
    repeats: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    method: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=float)
        object.__setattr__(self, "scores", scores)
        if self.spread is not None:
            object.__setattr__(self, "spread", np.asarray(self.spread, dtype=float))
        if self.repeats is not None:
            object.__setattr__(self, "repeats", np.asarray(self.repeats, dtype=float))
        names = _names(self.feature_names) or tuple(f"f{i}" for i in range(scores.shape[0]))
        if len(names) != scores.shape[0]:
            raise ValueError(f"{len(names)} feature names for {scores.shape[0]} scores")
        object.__setattr__(self, "feature_names", names)

    def __len__(self) -> int:
        return self.scores.shape[0]

    def order(self, descending: bool = True) -> np.ndarray:
        """Feature indices from most to least important (stable for ties)."""
        o = np.argsort(-self.scores if descending else self.scores, kind="stable")
        return o

    def take(self, idx: Sequence[int] | np.ndarray) -> "Importance":
        idx = np.asarray(idx, dtype=int)
        return replace(self, scores=self.scores[idx],
                       spread=None if self.spread is None else self.spread[idx],
                       repeats=None if self.repeats is None else self.repeats[:, idx],
                       feature_names=tuple(self.feature_names[i] for i in idx))

    def sorted(self, descending: bool = True) -> "Importance":
        """A copy ordered by score, most important first unless descending=False."""
        return self.take(self.order(descending))

    def top(self, k: int) -> "Importance":
        """The k most important features."""
        return self.take(self.order()[:k])

    def __getitem__(self, name: str) -> float:
        if name not in self.feature_names:
            raise KeyError(f"unknown feature {name!r}; known features: {list(self.feature_names)}")
        return float(self.scores[self.feature_names.index(name)])

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame({"feature": list(self.feature_names), "score": self.scores})
        if self.spread is not None:
            df["spread"] = self.spread
        return df

    def to_dict(self) -> dict:
        return {"type": "Importance", "scores": encode_array(self.scores), "spread": encode_array(self.spread),
                "repeats": encode_array(self.repeats), "feature_names": list(self.feature_names),
                "method": self.method, "meta": to_jsonable(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "Importance":
        if d.get("type", "Importance") != "Importance":
            raise ValueError(f"expected an Importance dict, got type {d.get('type')!r}")
        return cls(scores=decode_array(d["scores"]), spread=decode_array(d.get("spread")),
                   repeats=decode_array(d.get("repeats")), feature_names=d.get("feature_names", ()),
                   method=d.get("method", ""), meta=d.get("meta", {}))

    def __repr__(self) -> str:
        top = ", ".join(f"{n}={s:.4g}" for n, s in zip(self.sorted().feature_names[:5], self.sorted().scores[:5]))
        return f"Importance(method={self.method!r}, {top}{', ...' if len(self) > 5 else ''})"
