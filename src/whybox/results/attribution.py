"""`Attribution`: per-feature contributions, one row per explained input."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ._json import _names, decode_array, encode_array, to_jsonable
from .importance import Importance


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
    standard_error (same shape as values) the standard error of each value of a sampled estimate, or None
                   (exact methods, and methods whose error is not sampling noise); 0 where the value is exact

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
    standard_error: np.ndarray | None = None

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
        if self.standard_error is not None:
            object.__setattr__(self, "standard_error", np.asarray(self.standard_error, dtype=float))
            if self.standard_error.shape != self.values.shape:
                raise ValueError(f"standard_error has shape {self.standard_error.shape}; it must match values "
                                 f"{self.values.shape}")
            if np.isnan(self.standard_error).any() or (self.standard_error < 0).any():
                raise ValueError("standard_error must be >= 0 (inf where it is unknown), without NaN")
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

        values, data, base, se = self.values, self.data, self.base_values, self.standard_error
        axis = 0
        keep_rows = self.has_rows
        if self.has_rows:
            values, keep_rows = take(values, 0, row_key)
            if se is not None:
                se, _ = take(se, 0, row_key)
            base, _ = take(base, 0, row_key)
            if data is not None:
                data, _ = take(data, 0, row_key)
            axis = int(keep_rows)
        data_axis = axis
        fnames = self.feature_names
        for j, k in enumerate(feat_keys):
            if se is not None:
                se, _ = take(se, axis, k)
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
            if se is not None:
                se, _ = take(se, se.ndim - 1, out_key)
            values, kept = take(values, values.ndim - 1, out_key)
            base, _ = take(base, base.ndim - 1, out_key)
            if isinstance(onames, tuple):
                picked = np.asarray(onames, dtype=object)[out_key]
                onames = tuple(picked.tolist()) if kept else str(picked)
            has_outputs = kept
        return replace(self, values=values, base_values=base, data=data, feature_names=fnames, standard_error=se,
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
            se = None if self.standard_error is None else self.standard_error[i:i + 1][:, keep]
            row = replace(self, values=self.values[i:i + 1][:, keep], base_values=self.base_values[i:i + 1],
                          data=data, feature_names=names, mask=None, meta=self._row_meta([i]), standard_error=se)
            return row[(0,) + key[1:]]
        if any(not (isinstance(k, slice) and k == slice(None)) for k in key[1:2]):
            raise IndexError("the token positions of a padded batch differ from row to row; pick one row "
                             "first (attr[i]) and then its tokens")
        rows = np.arange(self.values.shape[0])[row_key]
        rows = np.atleast_1d(rows)
        sub = replace(self, values=self.values[rows], base_values=self.base_values[rows],
                      data=None if self.data is None else self.data[rows], mask=None, meta=self._row_meta(rows),
                      standard_error=None if self.standard_error is None else self.standard_error[rows])
        out = sub[(slice(None),) + key[1:]]
        return replace(out, mask=self.mask[rows])

    # ----------------------------------------------------------------- views
    def to_frame(self) -> pd.DataFrame:
        """A table of values: one row per explained input, one column per feature.

        With several outputs the columns are a (output, feature) MultiIndex.
        """
        a = self if self.has_rows else replace(
            self, values=self.values[None], base_values=self.base_values[None],
            data=None if self.data is None else self.data[None], has_rows=True,
            standard_error=None if self.standard_error is None else self.standard_error[None])
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
            "standard_error": encode_array(self.standard_error),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Attribution":
        if d.get("type", "Attribution") != "Attribution":
            raise ValueError(f"expected an Attribution dict, got type {d.get('type')!r}")
        return cls(values=decode_array(d["values"]), base_values=decode_array(d["base_values"]),
                   data=decode_array(d.get("data")), feature_names=d.get("feature_names"),
                   output_names=d.get("output_names"), method=d.get("method", ""),
                   meta=d.get("meta", {}), has_rows=d.get("has_rows", True),
                   has_outputs=d.get("has_outputs", False), mask=decode_array(d.get("mask")),
                   standard_error=decode_array(d.get("standard_error")))

    def __repr__(self) -> str:
        return (f"Attribution(method={self.method!r}, shape={self.values.shape}, "
                f"rows={self.has_rows}, outputs={self.output_names!r})")
