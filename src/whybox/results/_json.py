"""JSON-safe encoding of arrays and meta data, shared by every result type."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


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
