"""`Rule`: an IF-THEN rule that anchors a prediction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._format import format_value
from ._json import _names, decode_array, encode_array, to_jsonable


#: What counts as a word, for text rules and the word-level text masker: runs of letters, digits
#: and apostrophes inside words ("don't" is one word). Punctuation is never a feature.
WORD_PATTERN = r"\w+(?:'\w+)*"


_RULE_OPS = ("<", "<=", ">", ">=", "==", "!=", "in", "contains")


@dataclass(frozen=True, eq=False)
class Rule:
    """An IF-THEN rule that anchors a prediction: while its conditions hold, the prediction (almost) stays.

    conditions      ((feature, op, value), ...) with op one of <, <=, >, >=, ==, !=, in (value is a list)
                    or contains (text: the word is present; feature is the word's position label)
    precision       share of rows satisfying the rule on which the model gives `prediction`
    coverage        share of the coverage sample on which the rule holds
    prediction      the anchored prediction (class label or index)
    examples_agree  rows (or texts) where the rule holds and the prediction is the same, or None
    examples_disagree  rows (or texts) where the rule holds but the prediction differs, or None
    feature_names   column order for `holds` on plain arrays (tables), or None
    method, meta    as in `Attribution` (meta: model evaluations, tau, delta, precision bounds)
    """

    conditions: tuple[tuple[str, str, Any], ...]
    precision: float
    coverage: float
    prediction: Any = None
    examples_agree: np.ndarray | None = None
    examples_disagree: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None
    method: str = "anchors"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        conds = []
        for c in self.conditions:
            if len(c) != 3:
                raise ValueError(f"a condition is (feature, op, value), got {c!r}")
            feature, op, value = c
            if op not in _RULE_OPS:
                raise ValueError(f"unknown operator {op!r}; use one of {list(_RULE_OPS)}")
            if op == "in":
                value = tuple(np.asarray(value, dtype=object).tolist())
            elif isinstance(value, np.generic):
                value = value.item()
            conds.append((str(feature), op, value))
        object.__setattr__(self, "conditions", tuple(conds))
        object.__setattr__(self, "feature_names", _names(self.feature_names))
        for name in ("examples_agree", "examples_disagree"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, np.asarray(v, dtype=object if isinstance(v, list) else None))

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def is_text(self) -> bool:
        return any(op == "contains" for _, op, _ in self.conditions)

    def holds(self, X: Any) -> np.ndarray:
        """Boolean per row (or per text): does every condition hold? An empty rule holds everywhere."""
        texts_given = isinstance(X, str) or (isinstance(X, (list, tuple)) and bool(X)
                                             and all(isinstance(t, str) for t in X))
        if self.is_text or (texts_given and not self.conditions):
            texts = [X] if isinstance(X, str) else list(X)
            words = [set(re.findall(WORD_PATTERN, t)) for t in texts]
            out = np.ones(len(texts), dtype=bool)
            for _, op, value in self.conditions:
                out &= np.array([value in w for w in words], dtype=bool)
            return out
        if isinstance(X, pd.DataFrame):
            cols = {name: X[name].to_numpy() if name in X.columns else None for name, _, _ in self.conditions}
            n = len(X)
        else:
            arr = np.asarray(X)
            if arr.ndim == 1:
                arr = arr[None, :]
            if self.feature_names is None or len(self.feature_names) != arr.shape[1]:
                raise ValueError(f"rows without column names need the rule's feature_names "
                                 f"({self.feature_names}) to match their {arr.shape[1]} columns; pass a DataFrame")
            cols = {name: arr[:, self.feature_names.index(name)] if name in self.feature_names else None
                    for name, _, _ in self.conditions}
            n = arr.shape[0]
        out = np.ones(n, dtype=bool)
        for name, op, value in self.conditions:
            col = cols[name]
            if col is None:
                raise KeyError(f"the rule uses feature {name!r}, which the data does not have")
            if op == "in":
                out &= np.isin(col.astype(object), np.asarray(value, dtype=object))
                continue
            if op in ("==", "!="):
                eq = col.astype(object) == value
                out &= eq if op == "==" else ~eq
                continue
            c = col.astype(float)
            out &= {"<": c < value, "<=": c <= value, ">": c > value, ">=": c >= value}[op]
        return out

    def conditions_text(self) -> list[str]:
        """Each condition in human form, e.g. "income < 40,000" or 'contains "refund"'."""
        out = []
        for name, op, value in self.conditions:
            if op == "contains":
                out.append(f'contains "{value}"')
            elif op == "in":
                out.append(f"{name} in {format_value(value)}")
            else:
                out.append(f"{name} {op} {format_value(value)}")
        return out

    def to_text(self) -> str:
        """The rule as one line: "IF prior_defaults >= 2 AND income < 40,000 THEN deny (precision 0.97, ...)"."""
        cond = " AND ".join(self.conditions_text()) or "(always)"
        then = "" if self.prediction is None else f" THEN {self.prediction}"
        return f"IF {cond}{then} (precision {self.precision:.2f}, coverage {self.coverage:.2f})"

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict:
        return {"type": "Rule",
                "conditions": [[n, op, to_jsonable(list(v) if op == "in" else v)] for n, op, v in self.conditions],
                "precision": float(self.precision), "coverage": float(self.coverage),
                "prediction": to_jsonable(self.prediction),
                "examples_agree": encode_array(self.examples_agree),
                "examples_disagree": encode_array(self.examples_disagree),
                "feature_names": None if self.feature_names is None else list(self.feature_names),
                "method": self.method, "meta": to_jsonable(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "Rule":
        if d.get("type", "Rule") != "Rule":
            raise ValueError(f"expected a Rule dict, got type {d.get('type')!r}")
        return cls(conditions=tuple(tuple(c) for c in d["conditions"]), precision=d["precision"],
                   coverage=d["coverage"], prediction=d.get("prediction"),
                   examples_agree=decode_array(d.get("examples_agree")),
                   examples_disagree=decode_array(d.get("examples_disagree")),
                   feature_names=d.get("feature_names"), method=d.get("method", "anchors"), meta=d.get("meta", {}))

    def __repr__(self) -> str:
        return f"Rule({self.to_text()!r})"
