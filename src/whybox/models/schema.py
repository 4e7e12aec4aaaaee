"""What a table looks like to a model: column names, which are categorical, which values are allowed.

A `TabularSchema` turns user input (numpy, pandas, lists) into the one array form
explainers work on — float64 when every column is numeric, object otherwise —
and turns such arrays back into the DataFrame (with the original categorical
dtypes) that the model was fitted on. Bad input fails here with a message that
names the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["TabularSchema", "column_positions", "refuse_library_data"]

#: (module prefix, class name) of the boosting libraries' own data containers, which hold no readable rows
_LIBRARY_DATA = {("xgboost", "DMatrix"): "xgboost.DMatrix", ("xgboost", "QuantileDMatrix"): "xgboost.QuantileDMatrix",
                 ("xgboost", "DeviceQuantileDMatrix"): "xgboost.DeviceQuantileDMatrix",
                 ("lightgbm", "Dataset"): "lightgbm.Dataset", ("catboost", "Pool"): "catboost.Pool"}


def refuse_library_data(X: Any, what: str = "X") -> None:
    """Raise `InputError` when X is a library's training container (xgboost.DMatrix, lightgbm.Dataset,
    catboost.Pool): whybox needs the rows themselves, to perturb them and to show them."""
    for cls in type(X).__mro__:
        name = _LIBRARY_DATA.get(((getattr(cls, "__module__", "") or "").split(".")[0], cls.__name__))
        if name is not None:
            raise InputError(f"{what} is an object of type {name}, a training container whybox cannot read rows "
                             "from; pass the table you built it from instead (a pandas DataFrame, with its "
                             "categorical dtypes, or a numpy array)")


def column_positions(stored: Sequence[str], columns: Sequence[str], rename: Callable[[str], str] | None = None,
                     what: str = "X") -> list[int]:
    """Position in `columns` (a frame's names) of each of the model's `stored` column names.

    A column is found by its own name, or else through `rename`, the way the model's library rewrote names
    when it stored them (LightGBM: spaces -> "_"), so a frame named as in training is found.
    """
    cols = [str(c) for c in columns]
    exact = {c: p for p, c in reversed(list(enumerate(cols)))}
    wanted = set(stored)
    renamed: dict[str, list[int]] = {}
    if rename is not None:
        for p, c in enumerate(cols):
            name = rename(c)
            if name != c and name in wanted and name not in exact:
                renamed.setdefault(name, []).append(p)
    clash = {f: [cols[p] for p in ps] for f, ps in renamed.items() if len(ps) > 1}
    if clash:
        f, names = next(iter(clash.items()))
        raise InputError(f"{what} has columns {names}, which the model's library would all store as {f!r}; keep "
                         "only the one the model was trained on")
    missing = [f for f in stored if f not in exact and f not in renamed]
    if missing:
        how = " (or under the name its library stored it as)" if rename is not None else ""
        raise InputError(f"{what} lacks {len(missing)} of the model's columns{how}: {missing}; {what} has {cols}. "
                         "Pass the columns the model was trained on")
    return [exact[f] if f in exact else renamed[f][0] for f in stored]


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s.dtype) \
        and not pd.api.types.is_bool_dtype(s.dtype)


@dataclass
class TabularSchema:
    """Column layout of a table.

    names       column names in the order the model expects
    categories  name -> allowed values, for categorical (non-numeric) columns
    dtypes      name -> pandas dtype to restore before calling the model (categoricals only)
    as_frame    whether the model wants a DataFrame (it was fitted on one) rather than a numpy array
    allow_nan   whether missing values may reach the model: True, False, or the columns that may hold them
                (names, or positions in `names`), as a pipeline that imputes some columns only allows
    """

    names: tuple[str, ...]
    categories: dict[str, list] = field(default_factory=dict)
    dtypes: dict[str, Any] = field(default_factory=dict)
    as_frame: bool = False
    allow_nan: bool | frozenset = True

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def numeric(self) -> bool:
        return not self.categories

    @classmethod
    def from_data(cls, X: Any, names: Sequence[str] | None = None, allow_nan: bool | frozenset = True,
                  as_frame: bool | None = None) -> "TabularSchema":
        """Read the layout off example data (a DataFrame keeps its categorical dtypes)."""
        refuse_library_data(X)
        if isinstance(X, pd.DataFrame):
            categories, dtypes = {}, {}
            for c in X.columns:
                s = X[c]
                if _is_categorical(s):
                    if isinstance(s.dtype, pd.CategoricalDtype):
                        cats = list(s.dtype.categories)
                    else:
                        cats = sorted(pd.unique(s.dropna()).tolist(), key=str)
                    categories[str(c)] = cats
                    dtypes[str(c)] = s.dtype
            return cls(tuple(str(c) for c in X.columns), categories, dtypes,
                       as_frame=True if as_frame is None else as_frame, allow_nan=allow_nan)
        arr = _as_2d(X)
        if names is None:
            names = [f"x{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise InputError(f"{len(names)} feature names given for data with {arr.shape[1]} columns; "
                             "pass one name per column")
        return cls(tuple(str(n) for n in names), as_frame=bool(as_frame), allow_nan=allow_nan)

    # ------------------------------------------------------------------ input -> array
    def to_array(self, X: Any, what: str = "X") -> np.ndarray:
        """Validate X against the schema and return (n, features) float64 or object array in model order."""
        refuse_library_data(X, what)
        if isinstance(X, pd.Series):
            X = X.to_frame().T
        if isinstance(X, pd.DataFrame):
            cols = [str(c) for c in X.columns]
            missing = [n for n in self.names if n not in cols]
            unknown = [c for c in cols if c not in self.names]
            if missing or unknown:
                parts = []
                if missing:
                    parts.append(f"missing columns {missing}")
                if unknown:
                    parts.append(f"unknown columns {unknown}")
                raise InputError(f"{what} does not match the model's columns: {'; '.join(parts)}. "
                                 f"The model expects {list(self.names)}; select or rename the columns to match.")
            X = X.copy()
            X.columns = cols
            X = X[list(self.names)]
            if self.numeric:
                try:
                    arr = X.to_numpy(dtype=float)
                except (TypeError, ValueError) as e:
                    raise InputError(f"{what} has non-numeric values but the model's columns are all numeric "
                                     f"({e}); convert them or explain data shaped like the training data") from e
            else:
                arr = np.empty(X.shape, dtype=object)
                for j, name in enumerate(self.names):
                    col = X[name]
                    if name in self.categories:
                        arr[:, j] = np.asarray(col.astype(object), dtype=object)
                    else:
                        try:
                            arr[:, j] = pd.to_numeric(col).to_numpy(dtype=float)
                        except (TypeError, ValueError) as e:
                            raise InputError(f"column {name!r} of {what} should be numeric: {e}") from e
        else:
            arr = _as_2d(X)
            if arr.shape[1] != self.n_features:
                raise InputError(f"{what} has {arr.shape[1]} columns but the model expects {self.n_features} "
                                 f"({', '.join(self.names)}); pass data with the same columns as the training data")
            if self.numeric:
                try:
                    arr = arr.astype(float)
                except (TypeError, ValueError) as e:
                    raise InputError(f"{what} has non-numeric values but the model's columns are all numeric: "
                                     f"{e}") from e
            else:
                arr = arr.astype(object)
        self._check_values(arr, what)
        return arr

    def nan_allowed(self, j: int) -> bool:
        """Whether column j (position in `names`) may hold missing values."""
        if isinstance(self.allow_nan, (bool, np.bool_)):
            return bool(self.allow_nan)
        return j in self.allow_nan or self.names[j] in self.allow_nan

    def _check_values(self, arr: np.ndarray, what: str) -> None:
        for j, name in enumerate(self.names):
            col = arr[:, j]
            if name in self.categories:
                if not self.nan_allowed(j):
                    self._refuse_nan(int(pd.isna(pd.Series(col, dtype=object)).sum()), j, what)
                allowed = self.categories[name]
                present = pd.unique(pd.Series(col, dtype=object).dropna())
                bad = [v for v in present if v not in allowed]
                if bad:
                    raise InputError(f"unknown category {bad[0]!r} in column {name!r} of {what}; known categories: "
                                     f"{allowed}. Map it to a known category or refit the model with it.")
                continue
            if not self.nan_allowed(j):
                self._refuse_nan(int(np.isnan(col.astype(float)).sum()), j, what)
            if arr.dtype != object:
                continue
            try:
                col.astype(float)
            except (TypeError, ValueError) as e:
                raise InputError(f"column {name!r} of {what} should be numeric: {e}") from e

    def _refuse_nan(self, n_nan: int, j: int, what: str) -> None:
        if not n_nan:
            return
        some = [n for i, n in enumerate(self.names) if self.nan_allowed(i)]
        where = f" in this column (only in {some})" if some else ""
        raise InputError(f"column {self.names[j]!r} of {what} has {n_nan} missing values (NaN) but this model "
                         f"cannot take them{where}; impute them first (e.g. a SimpleImputer step), or use a model "
                         "that handles missing values (e.g. HistGradientBoosting, XGBoost, LightGBM). If the model "
                         "does take NaN, say so: whybox.models.wrap(model, allow_nan=True), and explain that")

    # ------------------------------------------------------------------ array -> model input
    def to_model_input(self, arr: np.ndarray) -> Any:
        """The form the model was fitted on: a DataFrame with restored dtypes, or a numpy array."""
        if not self.as_frame and self.numeric:
            return arr
        if self.numeric:
            return pd.DataFrame(arr, columns=list(self.names))
        data = {}
        for j, name in enumerate(self.names):
            col = arr[:, j]
            if name in self.categories:
                dtype = self.dtypes.get(name)
                if isinstance(dtype, pd.CategoricalDtype):
                    data[name] = pd.Categorical(col, dtype=dtype)
                else:
                    data[name] = pd.Series(col, dtype=object)
            else:
                data[name] = col.astype(float)
        frame = pd.DataFrame(data)
        if not self.as_frame:
            return frame.to_numpy()
        return frame

    def to_frame(self, arr: np.ndarray) -> pd.DataFrame:
        """Arrays back to a DataFrame for people (categoricals restored)."""
        out = self.to_model_input(arr)
        return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out, columns=list(self.names))


def _as_2d(X: Any) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"expected a table of shape (rows, features), got an array of shape {arr.shape}; "
                         "reshape it to 2-D")
    return arr
