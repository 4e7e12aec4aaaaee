"""`Counterfactuals`: what would have to change for another decision."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ._json import _names, decode_array, encode_array, to_jsonable
from ._format import format_value


_CF_STATUS = ("found", "not_found", "already")


def _format_change(v: Any, query: Any) -> str:
    """`format_value(v)`, with more digits where rounding would understate the change from `query`.

    "income 1" for a counterfactual income of 1.00001 that had to exceed 1 would tell a person to do
    too little; the number shown is never nearer the query's value than the counterfactual's own.
    """
    text = format_value(v)
    if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, (bool, np.bool_)) \
            or not isinstance(query, (int, float, np.integer, np.floating)):
        return text
    v, q = float(v), float(query)
    if not (math.isfinite(v) and math.isfinite(q)):
        return text
    for digits in range(4, 16):
        try:
            shown = float(text.replace(",", ""))
        except ValueError:
            return text
        if abs(shown - q) >= abs(v - q) or shown == v:
            return text
        text = f"{v:,.{digits}g}" if abs(v) < 1e15 else repr(v)
    return repr(v)


def _join_and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True, eq=False)
class Counterfactuals:
    """Counterfactual rows for a batch of queries: what would have to change for the model to decide otherwise.

    Ragged by nature (each query has its own number of rows), so the rows are one flat table and
    `query_index` says which query each row belongs to; `cf[i]` gives query i alone.

    Per query (n queries, m features):
      queries          (n, m) the explained rows (object array when there are categorical features)
      query_outputs    (n, outputs) the model's outputs at the queries
      query_decisions  the decision at each query (a class label; None for a regressor)
      targets          what each query had to reach: a list of class labels, or [low, high] (None = open)
      found            (n,) bool: at least one valid counterfactual was found
      status           "found"; "not_found" (its one row is the closest attempt, valid False); or
                       "already" (the query already reaches the target: no rows)
      diversity        (n,) mean pairwise distance among the query's counterfactuals (NaN below two)
    Per row (r rows):
      rows             (r, m) counterfactual rows (for a not-found query: the closest attempt)
      query_index      (r,) which query the row belongs to
      valid            (r,) bool: the model's re-predicted output reaches the target
      changed          (r, m) bool: which features differ from the query
      outputs          (r, outputs) the model's outputs at the row; decisions: the decision there
      proximity        (r,) d(query, row) = sum_numeric |dz_j| / MAD_j + number of changed categories
      sparsity         (r,) number of changed features
      plausibility     (r,) mean d to the nearest training rows the model puts in the target
      outlier_score    (r,) local outlier factor against those rows (about 1: inlier; larger: outlier)
    Also: feature_names, output_names, categories (name -> categories, restored by `to_frame`),
    integers (features shown as whole numbers), target_kind ("class" or "range"), method, meta
    (model evaluations, seed, constraints used, distance scales, settings).
    """

    queries: np.ndarray
    rows: np.ndarray
    query_index: np.ndarray
    valid: np.ndarray
    changed: np.ndarray
    outputs: np.ndarray
    query_outputs: np.ndarray
    proximity: np.ndarray
    sparsity: np.ndarray
    plausibility: np.ndarray
    outlier_score: np.ndarray
    found: np.ndarray
    status: tuple[str, ...]
    diversity: np.ndarray
    targets: tuple = ()
    decisions: tuple = ()
    query_decisions: tuple = ()
    feature_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] | None = None
    categories: dict = field(default_factory=dict)
    integers: tuple[str, ...] = ()
    target_kind: str = "class"
    method: str = "counterfactual_search"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("queries", "rows"):
            object.__setattr__(self, name, np.asarray(getattr(self, name)))
        for name, dtype in (("query_index", np.int64), ("valid", bool), ("changed", bool), ("outputs", float),
                            ("query_outputs", float), ("proximity", float), ("sparsity", np.int64),
                            ("plausibility", float), ("outlier_score", float), ("found", bool),
                            ("diversity", float)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
        object.__setattr__(self, "feature_names", tuple(str(n) for n in self.feature_names))
        object.__setattr__(self, "output_names", _names(self.output_names))
        object.__setattr__(self, "status", tuple(str(s) for s in self.status))
        object.__setattr__(self, "integers", tuple(str(s) for s in self.integers))
        for name in ("targets", "decisions", "query_decisions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "categories", {str(k): list(v) for k, v in dict(self.categories).items()})
        n, r, m = self.queries.shape[0], self.rows.shape[0], len(self.feature_names)
        if self.queries.ndim != 2 or self.queries.shape[1] != m:
            raise ValueError(f"queries has shape {self.queries.shape}, expected (n, {m}) for {m} feature names")
        if self.rows.shape != (r, m) or self.changed.shape != (r, m):
            raise ValueError(f"rows {self.rows.shape} and changed {self.changed.shape} must both be (rows, {m})")
        for name in ("query_index", "valid", "proximity", "sparsity", "plausibility", "outlier_score"):
            if getattr(self, name).shape != (r,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({r},): one per row")
        if self.outputs.shape[0] != r or self.query_outputs.shape[0] != n:
            raise ValueError("outputs needs one row per counterfactual and query_outputs one per query")
        for name in ("found", "diversity"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({n},): one per query")
        for name, want in (("status", n), ("targets", n), ("query_decisions", n), ("decisions", r)):
            if len(getattr(self, name)) != want:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, expected {want}")
        if r and (self.query_index.min() < 0 or self.query_index.max() >= n):
            raise ValueError("query_index points outside the queries")
        bad = [s for s in self.status if s not in _CF_STATUS]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}; use one of {list(_CF_STATUS)}")
        if self.valid.any() and not self.found[self.query_index[self.valid]].all():
            raise ValueError("a valid row belongs to a query marked not found")
        if r and (~self.valid & self.found[self.query_index]).any():
            raise ValueError("a query marked found holds an invalid row; invalid rows are closest attempts only")

    # ----------------------------------------------------------------- shape and indexing
    def __len__(self) -> int:
        return self.queries.shape[0]

    def rows_of(self, i: int) -> np.ndarray:
        """Positions in the flat table of query i's rows."""
        return np.flatnonzero(self.query_index == i)

    def __getitem__(self, key: Any) -> "Counterfactuals":
        """The result for some queries: an int, a slice, a list of ints or a boolean mask over queries."""
        n = len(self)
        if isinstance(key, (int, np.integer)):
            if not -n <= key < n:
                raise IndexError(f"query {key} out of range for {n} queries")
            picked = np.array([int(key) % n])
        else:
            picked = np.arange(n)[key]
            picked = np.atleast_1d(picked)
        pos = np.concatenate([self.rows_of(int(i)) for i in picked]) if len(picked) else np.zeros(0, dtype=int)
        pos = pos.astype(np.int64)
        remap = {int(q): i for i, q in enumerate(picked)}
        return replace(
            self, queries=self.queries[picked], query_outputs=self.query_outputs[picked],
            found=self.found[picked], status=tuple(self.status[i] for i in picked),
            diversity=self.diversity[picked], targets=tuple(self.targets[i] for i in picked),
            query_decisions=tuple(self.query_decisions[i] for i in picked),
            rows=self.rows[pos], query_index=np.array([remap[int(q)] for q in self.query_index[pos]], dtype=np.int64),
            valid=self.valid[pos], changed=self.changed[pos], outputs=self.outputs[pos],
            proximity=self.proximity[pos], sparsity=self.sparsity[pos], plausibility=self.plausibility[pos],
            outlier_score=self.outlier_score[pos], decisions=tuple(self.decisions[i] for i in pos))

    # ----------------------------------------------------------------- tables
    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, name in enumerate(self.feature_names):
            col = values[:, j]
            if name in self.categories:
                data[name] = pd.Categorical(list(col), categories=self.categories[name])
                continue
            col = col.astype(float)
            if name in self.integers and np.all(np.isfinite(col)) and np.all(col == np.round(col)):
                data[name] = col.astype(np.int64)
            else:
                data[name] = col
        return pd.DataFrame(data)

    def query_frame(self) -> pd.DataFrame:
        """The queries as a DataFrame (categories restored), one row per query."""
        frame = self._frame(self.queries)
        frame.index.name = "query"
        return frame

    def to_frame(self, closest: bool = False) -> pd.DataFrame:
        """One row per counterfactual: query id, rank within the query, valid, the features, what changed,
        the metrics and the decision (or the prediction, for a regressor).

        closest   also list the closest attempts of queries where none was found (valid False)
        """
        keep = np.ones(len(self.valid), dtype=bool) if closest else self.valid
        pos = np.flatnonzero(keep)
        frame = self._frame(self.rows[pos])
        rank = np.zeros(len(pos), dtype=np.int64)
        counts: dict[int, int] = {}
        for i, q in enumerate(self.query_index[pos]):
            rank[i] = counts.get(int(q), 0)
            counts[int(q)] = rank[i] + 1
        names = np.array(self.feature_names, dtype=object)
        head = pd.DataFrame({"query": self.query_index[pos], "rank": rank, "valid": self.valid[pos]})
        tail = pd.DataFrame({
            "changed": [tuple(names[self.changed[i]]) for i in pos],
            "proximity": self.proximity[pos], "sparsity": self.sparsity[pos],
            "plausibility": self.plausibility[pos], "outlier_score": self.outlier_score[pos],
        })
        if self.target_kind == "range":
            tail["prediction"] = self.outputs[pos, 0] if len(pos) else np.zeros(0)
        else:
            tail["decision"] = [self.decisions[i] for i in pos]
        return pd.concat([head, frame, tail], axis=1)

    @property
    def closest(self) -> pd.DataFrame:
        """The closest attempts of the queries where no valid counterfactual was found (valid False)."""
        frame = self.to_frame(closest=True)
        return frame[~frame["valid"].to_numpy(dtype=bool)].reset_index(drop=True)

    # ----------------------------------------------------------------- sentences
    def to_text(self, formatters: dict | None = None, outcome_names: dict | None = None,
                labels: dict | None = None, subject: str = "your") -> list[list[str]]:
        """Each counterfactual as a sentence in the user's units, a list of sentences per query:

        "Had your income been 48,000 instead of 42,000, the decision would have been approved."

        formatters     feature -> f(value) -> str (default: thousands separators, whole numbers without
                       decimals, up to 4 significant digits — more where rounding would make the change
                       look smaller than it is — and categories as they are). A formatter of your own
                       must not round a value back across the decision boundary: round away from the
                       query's value.
        outcome_names  decision label -> words, e.g. {1: "approved", 0: "denied"} (keys match by value or text)
        labels         feature -> how to name it (default: the name with underscores as spaces)
        subject        the possessive before each feature ("your"; "" for none)
        """
        formatters = dict(formatters or {})
        labels = dict(labels or {})

        def fmt(name: str, v: Any, query: Any = None) -> str:
            f = formatters.get(name)
            if f is not None:
                return str(f(v))
            if name in self.integers and isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer():
                return f"{int(v):,}"
            return _format_change(v, query) if query is not None else format_value(v)

        def outcome(label: Any) -> str:
            if outcome_names:
                for key, words in outcome_names.items():
                    if key == label or str(key) == str(label):
                        return str(words)
            return str(label)

        def wanted(target: Any) -> str:
            if self.target_kind == "range":
                lo, hi = target
                if lo is not None and hi is not None:
                    return f"the prediction between {format_value(lo)} and {format_value(hi)}"
                if lo is not None:
                    return f"the prediction at least {format_value(lo)}"
                return f"the prediction at most {format_value(hi)}"
            return "the decision " + " or ".join(outcome(t) for t in target)

        who = f"{subject} " if subject else ""
        out = []
        for i in range(len(self)):
            if self.status[i] == "already":
                now = (f"prediction is already {format_value(self.query_outputs[i, 0])}"
                       if self.target_kind == "range" else f"decision is already {outcome(self.query_decisions[i])}")
                out.append([f"The {now}; nothing needs to change."])
                continue
            if not self.found[i]:
                out.append([f"No allowed change was found that would have made {wanted(self.targets[i])}."])
                continue
            sentences = []
            for r in self.rows_of(i):
                parts = []
                for j in np.flatnonzero(self.changed[r]):
                    name = self.feature_names[j]
                    label = labels.get(name, name.replace("_", " "))
                    parts.append(f"{who}{label} been {fmt(name, self.rows[r, j], self.queries[i, j])} instead of "
                                 f"{fmt(name, self.queries[i, j])}")
                if self.target_kind == "range":
                    then = (f"the prediction would have been {format_value(self.outputs[r, 0])} instead of "
                            f"{format_value(self.query_outputs[i, 0])}")
                else:
                    then = f"the decision would have been {outcome(self.decisions[r])}"
                sentences.append(f"Had {_join_and(parts)}, {then}.")
            out.append(sentences)
        return out

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        return {"type": "Counterfactuals",
                "queries": encode_array(self.queries), "rows": encode_array(self.rows),
                "query_index": encode_array(self.query_index), "valid": encode_array(self.valid),
                "changed": encode_array(self.changed), "outputs": encode_array(self.outputs),
                "query_outputs": encode_array(self.query_outputs), "proximity": encode_array(self.proximity),
                "sparsity": encode_array(self.sparsity), "plausibility": encode_array(self.plausibility),
                "outlier_score": encode_array(self.outlier_score), "found": encode_array(self.found),
                "status": list(self.status), "diversity": encode_array(self.diversity),
                "targets": to_jsonable(list(self.targets)), "decisions": to_jsonable(list(self.decisions)),
                "query_decisions": to_jsonable(list(self.query_decisions)),
                "feature_names": list(self.feature_names),
                "output_names": list(self.output_names) if isinstance(self.output_names, tuple) else self.output_names,
                "categories": {k: to_jsonable(list(v)) for k, v in self.categories.items()},
                "integers": list(self.integers), "target_kind": self.target_kind,
                "method": self.method, "meta": to_jsonable(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "Counterfactuals":
        if d.get("type", "Counterfactuals") != "Counterfactuals":
            raise ValueError(f"expected a Counterfactuals dict, got type {d.get('type')!r}")
        arrays = {name: decode_array(d[name]) for name in (
            "queries", "rows", "query_index", "valid", "changed", "outputs", "query_outputs", "proximity",
            "sparsity", "plausibility", "outlier_score", "found", "diversity")}
        return cls(**arrays, status=tuple(d["status"]), targets=tuple(d.get("targets", ())),
                   decisions=tuple(d.get("decisions", ())), query_decisions=tuple(d.get("query_decisions", ())),
                   feature_names=tuple(d["feature_names"]), output_names=d.get("output_names"),
                   categories=d.get("categories", {}), integers=tuple(d.get("integers", ())),
                   target_kind=d.get("target_kind", "class"), method=d.get("method", "counterfactual_search"),
                   meta=d.get("meta", {}))

    def __repr__(self) -> str:
        return (f"Counterfactuals(method={self.method!r}, queries={len(self)}, found={int(self.found.sum())}, "
                f"rows={int(self.valid.sum())} valid + {int((~self.valid).sum())} closest attempts)")
