"""Result types every explainer returns: plain numpy data with names, slicing and JSON round trips.

`results` imports nothing of whybox; everything else may import it.

Shape rule (one for every input kind): `values` is (n, *feature_shape[, outputs]).
The trailing outputs axis exists only when the model has more than one output.
Indexing with an integer or a single name drops that axis, as numpy does, so
`attr[0]` is one explained row and `attr[:, "income"]` one feature over all rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["Attribution", "Importance", "Interactions", "Dependence", "Rule", "Counterfactuals", "WORD_PATTERN", "encode_array", "decode_array", "to_jsonable"]


# --------------------------------------------------------------------------- JSON helpers

def _encode_scalar(v: Any, tagged: bool = False) -> Any:
    """One array element as a JSON value.

    Non-finite floats become "nan"/"inf"/"-inf" so the text stays strict JSON; in object
    arrays (where a string may be a real category) they are tagged as {"float": "nan"}.
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isfinite(f):
            return f
        text = "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
        return {"float": text} if tagged else text
    return str(v)


_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def encode_array(a: np.ndarray | None) -> dict | None:
    """Encode an array as {"dtype", "shape", "data"} with a flat list of JSON values (exact for floats)."""
    if a is None:
        return None
    a = np.asarray(a)
    tagged = a.dtype.kind == "O"
    kind = "object" if tagged else a.dtype.str
    return {"dtype": kind, "shape": list(a.shape),
            "data": [_encode_scalar(v, tagged) for v in a.ravel().tolist()]}


def decode_array(d: dict | None) -> np.ndarray | None:
    """Inverse of `encode_array`."""
    if d is None:
        return None
    shape = tuple(d["shape"])
    if d["dtype"] == "object":
        flat = np.empty(len(d["data"]), dtype=object)
        flat[:] = [_NONFINITE[v["float"]] if isinstance(v, dict) else v for v in d["data"]]
        return flat.reshape(shape)
    dtype = np.dtype(d["dtype"])
    if dtype.kind == "f":
        data = [_NONFINITE.get(v, v) if isinstance(v, str) else v for v in d["data"]]
    else:
        data = d["data"]
    return np.asarray(data, dtype=dtype).reshape(shape)


def to_jsonable(obj: Any) -> Any:
    """Turn nested meta data (dicts, lists, numpy scalars and arrays) into JSON-safe Python values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    return _encode_scalar(obj)


def _names(names: Any) -> Any:
    if names is None or isinstance(names, str):
        return names
    return tuple(str(n) for n in names)


# --------------------------------------------------------------------------- Attribution

@dataclass(frozen=True, eq=False)
class Attribution:
    """Per-feature contributions to a model's output, one row per explained input.

    values         (n, *feature_shape[, outputs]) contributions
    base_values    (n[, outputs]) the output with every feature removed (E[f] over the background)
    data           (n, *feature_shape) the explained inputs, or None
    feature_names  names of the feature axis (tables and text), or None (images)
    output_names   names of the outputs axis, or None for a single-output model
    method         the method that produced it, e.g. "kernel_shap"
    meta           JSON-safe details: budget, model evaluations, seed, choices made
    has_rows       False once a single row was taken with attr[i]
    has_outputs    True while the trailing outputs axis is present
    mask           (n, tokens) bool for texts of different lengths padded to the longest: True on real
                   tokens. `attr[i]` drops the padding and names the features by that row's tokens
                   (taken from `data`). Padded values are 0.

    `meta["per_row"]` may list meta keys that hold one entry per row (LIME's local fidelity, say);
    indexing rows slices those lists too, and a single row keeps its own entry as a one-item list.
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray | None = None
    feature_names: tuple[str, ...] | str | None = None
    output_names: tuple[str, ...] | str | None = None
    method: str = ""
    meta: dict = field(default_factory=dict)
    has_rows: bool = True
    has_outputs: bool = False
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", np.asarray(self.values))
        object.__setattr__(self, "base_values", np.asarray(self.base_values))
        if self.data is not None:
            object.__setattr__(self, "data", np.asarray(self.data))
        object.__setattr__(self, "feature_names", _names(self.feature_names))
        object.__setattr__(self, "output_names", _names(self.output_names))
        expected_base = self.values.shape[:1] * self.has_rows
        if self.has_outputs:
            expected_base = expected_base + self.values.shape[-1:]
        if self.base_values.shape != expected_base:
            raise ValueError(
                f"base_values has shape {self.base_values.shape}, expected {expected_base} "
                f"for values of shape {self.values.shape}")
        value_shape = self.values.shape[:-1] if self.has_outputs else self.values.shape
        if self.data is not None and self.data.shape != value_shape:
            raise ValueError(f"data has shape {self.data.shape}, expected {value_shape} to match values of "
                             f"shape {self.values.shape}")
        if self.mask is not None:
            object.__setattr__(self, "mask", np.asarray(self.mask, dtype=bool))
            if not self.has_rows or self.feature_ndim != 1 or self.mask.shape != value_shape:
                raise ValueError(f"mask has shape {self.mask.shape}; it must be (rows, tokens) = {value_shape} "
                                 f"and is only for batches of padded sequences")
        if isinstance(self.feature_names, tuple) and self.feature_ndim == 1 and \
                len(self.feature_names) != value_shape[-1]:
            raise ValueError(f"{len(self.feature_names)} feature names for {value_shape[-1]} features")
        if isinstance(self.output_names, tuple) and self.has_outputs and \
                len(self.output_names) != self.values.shape[-1]:
            raise ValueError(f"{len(self.output_names)} output names for {self.values.shape[-1]} outputs")

    # ----------------------------------------------------------------- shape
    @property
    def feature_ndim(self) -> int:
        """Number of feature axes (1 for tables and text, 3 for (C, H, W) images, 0 after picking one)."""
        return self.values.ndim - int(self.has_rows) - int(self.has_outputs)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def __len__(self) -> int:
        if not self.has_rows:
            raise TypeError("a single explained row has no length; index the features instead")
        return self.values.shape[0]

    @property
    def output(self) -> np.ndarray:
        """The model output that base_values + sum(values) reconstructs: (n[, outputs])."""
        axes = tuple(range(int(self.has_rows), int(self.has_rows) + self.feature_ndim))
        return self.base_values + self.values.sum(axis=axes)

    # ----------------------------------------------------------------- indexing
    def _axis_index(self, key: Any, names: Any, what: str) -> Any:
        """Turn a name, list of names, or numpy-style key on one named axis into a numpy key."""
        if isinstance(key, str):
            if not isinstance(names, tuple):
                raise KeyError(f"this attribution has no {what} names to look up {key!r}")
            if key not in names:
                raise KeyError(f"unknown {what} {key!r}; known {what}s: {list(names)}")
            return names.index(key)
        if isinstance(key, (list, tuple)) and key and all(isinstance(k, str) for k in key):
            return [self._axis_index(k, names, what) for k in key]
        return key

    def __getitem__(self, key: Any) -> "Attribution":
        if not isinstance(key, tuple):
            key = (key,)
        n_axes = self.values.ndim
        if any(k is Ellipsis for k in key):
            i = [k is Ellipsis for k in key].index(True)
            fill = n_axes - (len(key) - 1)
            key = key[:i] + (slice(None),) * fill + key[i + 1:]
        if len(key) > n_axes:
            raise IndexError(f"too many indices ({len(key)}) for an attribution with {n_axes} axes")
        key = key + (slice(None),) * (n_axes - len(key))
        if self.mask is not None:
            return self._index_padded(key)
        r = int(self.has_rows)
        fdim = self.feature_ndim
        row_key = key[0] if self.has_rows else None
        if isinstance(row_key, str) or (isinstance(row_key, (list, tuple)) and row_key
                                        and isinstance(row_key[0], str)):
            raise KeyError(f"the first index picks rows, not {row_key!r}; to pick a feature use "
                           f"attr[:, {row_key!r}], to pick an output attr[..., {row_key!r}]")
        feat_keys = list(key[r:r + fdim])
        out_key = key[-1] if self.has_outputs else None
        if fdim == 1:
            feat_keys[0] = self._axis_index(feat_keys[0], self.feature_names, "feature")
        if self.has_outputs:
            out_key = self._axis_index(out_key, self.output_names, "output")

        def take(a: np.ndarray, axis: int, k: Any) -> tuple[np.ndarray, bool]:
            """Index one axis; return the array and whether that axis survived."""
            if isinstance(k, slice) and k == slice(None):
                return a, True
            idx = (slice(None),) * axis + (k,)
            out = a[idx]
            if not isinstance(out, np.ndarray):     # one element of an object array
                out = np.array(out, dtype=a.dtype)
            return out, out.ndim == a.ndim

        values, data, base = self.values, self.data, self.base_values
        axis = 0
        keep_rows = self.has_rows
        if self.has_rows:
            values, keep_rows = take(values, 0, row_key)
            base, _ = take(base, 0, row_key)
            if data is not None:
                data, _ = take(data, 0, row_key)
            axis = int(keep_rows)
        data_axis = axis
        fnames = self.feature_names
        for j, k in enumerate(feat_keys):
            values, kept = take(values, axis, k)
            if data is not None:
                data, _ = take(data, data_axis, k)
            if fdim == 1 and isinstance(fnames, tuple):
                picked = np.asarray(fnames, dtype=object)[k]
                fnames = tuple(picked.tolist()) if kept else str(picked)
            if kept:
                axis += 1
                data_axis += 1
        has_outputs = self.has_outputs
        onames = self.output_names
        if self.has_outputs:
            values, kept = take(values, values.ndim - 1, out_key)
            base, _ = take(base, base.ndim - 1, out_key)
            if isinstance(onames, tuple):
                picked = np.asarray(onames, dtype=object)[out_key]
                onames = tuple(picked.tolist()) if kept else str(picked)
            has_outputs = kept
        return replace(self, values=values, base_values=base, data=data, feature_names=fnames,
                       output_names=onames, has_rows=keep_rows, has_outputs=has_outputs,
                       meta=self._row_meta(row_key) if self.has_rows else self.meta)

    def _row_meta(self, row_key: Any) -> dict:
        """meta with the per-row entries (keys listed in meta["per_row"]) cut to the rows picked."""
        keys = self.meta.get("per_row")
        if not keys or (isinstance(row_key, slice) and row_key == slice(None)):
            return self.meta
        n = self.values.shape[0]
        rows = np.atleast_1d(np.arange(n)[row_key])
        meta = dict(self.meta)
        for k in keys:
            v = meta.get(k)
            if isinstance(v, (list, tuple)) and len(v) == n:
                meta[k] = [v[i] for i in rows]
        return meta

    def _index_padded(self, key: tuple) -> "Attribution":
        """Indexing a padded batch: one row loses its padding; several rows keep the mask."""
        row_key = key[0]
        if isinstance(row_key, (int, np.integer)):
            i = int(row_key)
            keep = self.mask[i]
            data = None if self.data is None else self.data[i:i + 1][:, keep]
            names = self.feature_names
            if data is not None and data.dtype.kind in "OUS":
                names = tuple(str(t) for t in data[0])
            row = replace(self, values=self.values[i:i + 1][:, keep], base_values=self.base_values[i:i + 1],
                          data=data, feature_names=names, mask=None, meta=self._row_meta([i]))
            return row[(0,) + key[1:]]
        if any(not (isinstance(k, slice) and k == slice(None)) for k in key[1:2]):
            raise IndexError("the token positions of a padded batch differ from row to row; pick one row "
                             "first (attr[i]) and then its tokens")
        rows = np.arange(self.values.shape[0])[row_key]
        rows = np.atleast_1d(rows)
        sub = replace(self, values=self.values[rows], base_values=self.base_values[rows],
                      data=None if self.data is None else self.data[rows], mask=None, meta=self._row_meta(rows))
        out = sub[(slice(None),) + key[1:]]
        return replace(out, mask=self.mask[rows])

    # ----------------------------------------------------------------- views
    def to_frame(self) -> pd.DataFrame:
        """A table of values: one row per explained input, one column per feature.

        With several outputs the columns are a (output, feature) MultiIndex.
        """
        a = self if self.has_rows else replace(
            self, values=self.values[None], base_values=self.base_values[None],
            data=None if self.data is None else self.data[None], has_rows=True)
        if a.feature_ndim != 1:
            raise ValueError("to_frame needs exactly one feature axis; slice the attribution first")
        names = list(a.feature_names) if isinstance(a.feature_names, tuple) else [
            f"f{i}" for i in range(a.values.shape[1])]
        if not a.has_outputs:
            return pd.DataFrame(a.values, columns=names)
        outs = list(a.output_names) if isinstance(a.output_names, tuple) else [
            str(i) for i in range(a.values.shape[-1])]
        flat = np.transpose(a.values, (0, 2, 1)).reshape(a.values.shape[0], -1)
        cols = pd.MultiIndex.from_product([outs, names], names=["output", "feature"])
        return pd.DataFrame(flat, columns=cols)

    def mean_abs(self, output: int | str | None = None) -> "Importance":
        """Global importance: mean |value| per feature over the rows (and over outputs unless one is chosen)."""
        a = self
        if output is not None:
            if not a.has_outputs:
                raise ValueError(f"output={output!r} given, but this attribution has a single output "
                                 f"({a.output_names!r}); leave output out")
            a = a[..., output]
        if not a.has_rows:
            raise ValueError("mean_abs needs several rows; call it on the whole attribution")
        absval = np.abs(a.values)
        if a.has_outputs:
            absval = absval.mean(axis=-1)
        absval = absval.reshape(absval.shape[0], -1)
        if isinstance(a.feature_names, tuple):
            names = a.feature_names
        elif isinstance(a.feature_names, str) and absval.shape[1] == 1:
            names = (a.feature_names,)
        else:
            names = tuple(f"f{i}" for i in range(absval.shape[1]))
        n = absval.shape[0]
        return Importance(scores=absval.mean(axis=0),
                          spread=absval.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(absval.shape[1]),
                          repeats=absval, feature_names=names, method=f"mean_abs({a.method})",
                          meta={"spread": "standard error of the mean over rows", "rows": n})

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """JSON-safe form; `Attribution.from_dict(a.to_dict())` gives back equal arrays bit for bit."""
        return {
            "type": "Attribution",
            "values": encode_array(self.values),
            "base_values": encode_array(self.base_values),
            "data": encode_array(self.data),
            "feature_names": list(self.feature_names) if isinstance(self.feature_names, tuple) else self.feature_names,
            "output_names": list(self.output_names) if isinstance(self.output_names, tuple) else self.output_names,
            "method": self.method,
            "meta": to_jsonable(self.meta),
            "has_rows": self.has_rows,
            "has_outputs": self.has_outputs,
            "mask": encode_array(self.mask),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Attribution":
        if d.get("type", "Attribution") != "Attribution":
            raise ValueError(f"expected an Attribution dict, got type {d.get('type')!r}")
        return cls(values=decode_array(d["values"]), base_values=decode_array(d["base_values"]),
                   data=decode_array(d.get("data")), feature_names=d.get("feature_names"),
                   output_names=d.get("output_names"), method=d.get("method", ""),
                   meta=d.get("meta", {}), has_rows=d.get("has_rows", True),
                   has_outputs=d.get("has_outputs", False), mask=decode_array(d.get("mask")))

    def __repr__(self) -> str:
        return (f"Attribution(method={self.method!r}, shape={self.values.shape}, "
                f"rows={self.has_rows}, outputs={self.output_names!r})")


# --------------------------------------------------------------------------- Importance

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


# --------------------------------------------------------------------------- Interactions

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


# --------------------------------------------------------------------------- Dependence

@dataclass(frozen=True, eq=False)
class Dependence:
    """How the model output moves with one or two features (partial dependence, ICE, ALE).

    features       the one or two feature names
    grid           one array of grid values per feature
    average        (g1[, g2][, outputs]) the average curve (or surface)
    individual     (n, g1[, outputs]) one curve per row (ICE), or None
    output_names   names of the outputs axis, or None for a single output
    method, meta   as in `Attribution`
    has_outputs    True while the trailing outputs axis is present
    """

    features: tuple[str, ...]
    grid: tuple[np.ndarray, ...]
    average: np.ndarray
    individual: np.ndarray | None = None
    output_names: tuple[str, ...] | str | None = None
    method: str = ""
    meta: dict = field(default_factory=dict)
    has_outputs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))
        object.__setattr__(self, "grid", tuple(np.asarray(g) for g in self.grid))
        object.__setattr__(self, "average", np.asarray(self.average))
        if self.individual is not None:
            object.__setattr__(self, "individual", np.asarray(self.individual))
        object.__setattr__(self, "output_names", _names(self.output_names))
        shape = tuple(len(g) for g in self.grid)
        if len(self.features) != len(self.grid):
            raise ValueError(f"{len(self.features)} features but {len(self.grid)} grids")
        if self.average.shape[:len(shape)] != shape:
            raise ValueError(f"average has shape {self.average.shape}, expected it to start with {shape}")

    def to_dict(self) -> dict:
        return {"type": "Dependence", "features": list(self.features), "grid": [encode_array(g) for g in self.grid],
                "average": encode_array(self.average), "individual": encode_array(self.individual),
                "output_names": list(self.output_names) if isinstance(self.output_names, tuple) else self.output_names,
                "method": self.method, "meta": to_jsonable(self.meta), "has_outputs": self.has_outputs}

    @classmethod
    def from_dict(cls, d: dict) -> "Dependence":
        if d.get("type", "Dependence") != "Dependence":
            raise ValueError(f"expected a Dependence dict, got type {d.get('type')!r}")
        return cls(features=tuple(d["features"]), grid=tuple(decode_array(g) for g in d["grid"]),
                   average=decode_array(d["average"]), individual=decode_array(d.get("individual")),
                   output_names=d.get("output_names"), method=d.get("method", ""), meta=d.get("meta", {}),
                   has_outputs=d.get("has_outputs", False))

    def __repr__(self) -> str:
        return f"Dependence(method={self.method!r}, features={self.features}, grid={[len(g) for g in self.grid]})"


# --------------------------------------------------------------------------- Rule

#: What counts as a word, for text rules and the word-level text masker: runs of letters, digits
#: and apostrophes inside words ("don't" is one word). Punctuation is never a feature.
WORD_PATTERN = r"\w+(?:'\w+)*"

_RULE_OPS = ("<", "<=", ">", ">=", "==", "!=", "in", "contains")


def _format_value(v: Any) -> str:
    """A value as a person writes it: 40,000 not 40000.0; 0.25 not 0.250000001; strings as they are."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(_format_value(x) for x in v) + "}"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    f = float(v)
    if not math.isfinite(f):
        return str(f)
    if f == round(f) and abs(f) < 1e15:
        return f"{int(round(f)):,}"
    # six significant digits: a threshold must not print on the wrong side of itself (39,999.5, not 40,000)
    return f"{f:,.6g}"


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
        import re

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
                out.append(f"{name} in {_format_value(value)}")
            else:
                out.append(f"{name} {op} {_format_value(value)}")
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


# --------------------------------------------------------------------------- Counterfactuals

_CF_STATUS = ("found", "not_found", "already")


def _format_change(v: Any, query: Any) -> str:
    """`_format_value(v)`, with more digits where rounding would understate the change from `query`.

    "income 1" for a counterfactual income of 1.00001 that had to exceed 1 would tell a person to do
    too little; the number shown is never nearer the query's value than the counterfactual's own.
    """
    text = _format_value(v)
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
            return _format_change(v, query) if query is not None else _format_value(v)

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
                    return f"the prediction between {_format_value(lo)} and {_format_value(hi)}"
                if lo is not None:
                    return f"the prediction at least {_format_value(lo)}"
                return f"the prediction at most {_format_value(hi)}"
            return "the decision " + " or ".join(outcome(t) for t in target)

        who = f"{subject} " if subject else ""
        out = []
        for i in range(len(self)):
            if self.status[i] == "already":
                now = (f"prediction is already {_format_value(self.query_outputs[i, 0])}"
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
                    then = (f"the prediction would have been {_format_value(self.outputs[r, 0])} instead of "
                            f"{_format_value(self.query_outputs[i, 0])}")
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
