"""`Model`: one batched function f(X) -> (n, outputs) float64 that counts its evaluations.

Every explainer talks to models through this class only. Adapters (sklearn.py,
boosting.py, onnx.py) turn a library's model into a `Prediction` — the predict
function plus what is known about it — and `wrap()` picks the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, ModelError
from .schema import TabularSchema, column_positions, refuse_library_data

__all__ = ["Model", "Prediction", "OUTPUTS", "register_adapter", "wrap"]

#: What `output=` may ask for. "auto" is probability for classifiers and the prediction otherwise.
OUTPUTS = ("auto", "probability", "log_odds", "raw", "predict")


@dataclass
class Prediction:
    """What an adapter knows about a model.

    predict        f(model_input) -> array (n,) or (n, outputs)
    output         the output space it computes ("probability", "log_odds", "raw", "predict")
    output_names   names of the outputs, if known
    feature_names  the columns the model was fitted on, if it records them
    n_features     how many columns the model takes, if it records it
    allow_nan      whether the model accepts missing values
    wants_frame    whether it should be called with a DataFrame
    kind           a short description of the model, for meta and messages
    native         the underlying model object (tree parsers read it)
    rename         how the library rewrote a column name when it stored it (LightGBM: spaces -> "_"), so a
                   frame with the names the user trained on is found; None: names as stored
    batch_invariant  the model computes each row on its own (a sum over trees in a fixed order), so a batched
                   call gives every row exactly what it gets alone; `evaluate_each` then makes one call
    """

    predict: Callable[[Any], Any]
    output: str = "predict"
    output_names: Sequence[str] | None = None
    feature_names: Sequence[str] | None = None
    n_features: int | None = None
    allow_nan: bool = True
    wants_frame: bool | None = None
    kind: str = "callable"
    native: Any = None
    rename: Callable[[str], str] | None = None
    batch_invariant: bool = False
    extra: dict = field(default_factory=dict)


# (priority, matches(model) -> bool, adapt(model, output) -> Prediction), tried by ascending priority
_ADAPTERS: list[tuple[int, Callable[[Any], bool], Callable[[Any, str], Prediction]]] = []

#: priorities of the built-in adapters: boosters' sklearn-style wrappers must win over plain scikit-learn
PRIORITY = {"user": 0, "boosting": 10, "onnx": 20, "torch": 25, "text": 26, "sklearn": 30, "callables": 90}


def register_adapter(matches: Callable[[Any], bool], adapt: Callable[[Any, str], Prediction],
                     priority: int = PRIORITY["user"]) -> None:
    """Teach `wrap` a new kind of model; lower priority is tried first (users' adapters come first).

    `matches` must not import heavy libraries.
    """
    _ADAPTERS.append((priority, matches, adapt))
    _ADAPTERS.sort(key=lambda item: item[0])


class Model:
    """A model as explainers see it: f(X) -> (n, outputs) float64.

    Arguments:
      prediction   the adapter's `Prediction`
      batch_size   most rows sent to the model in one call (None: no limit)
      feature_names  override the names the model or data carries

    `n_evals` counts the rows evaluated since creation (or `reset_count()`).
    """

    def __init__(self, prediction: Prediction, batch_size: int | None = None,
                 feature_names: Sequence[str] | None = None) -> None:
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be a positive number of rows, got {batch_size}")
        self.prediction = prediction
        self.batch_size = batch_size
        self._names = tuple(str(n) for n in feature_names) if feature_names is not None else (
            tuple(str(n) for n in prediction.feature_names) if prediction.feature_names is not None else None)
        self.schema: TabularSchema | None = None
        self.n_evals = 0
        self.n_calls = 0
        self._n_outputs: int | None = None
        self._output_names = tuple(str(n) for n in prediction.output_names) if prediction.output_names else None

    # ----------------------------------------------------------------- description
    @property
    def output(self) -> str:
        return self.prediction.output

    @property
    def kind(self) -> str:
        return self.prediction.kind

    @property
    def native(self) -> Any:
        return self.prediction.native

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        if self.schema is not None:
            return self.schema.names
        return self._names

    @property
    def n_outputs(self) -> int | None:
        return self._n_outputs

    @property
    def output_names(self) -> tuple[str, ...] | None:
        if self._output_names is not None:
            return self._output_names
        if self._n_outputs is not None:
            return tuple(f"output_{i}" for i in range(self._n_outputs)) if self._n_outputs > 1 else ("output",)
        return None

    def reset_count(self) -> None:
        self.n_evals = 0
        self.n_calls = 0

    # ----------------------------------------------------------------- data
    def bind(self, X: Any) -> TabularSchema:
        """Learn the column layout from example data (done once; later data is checked against it)."""
        if self.schema is not None:
            return self.schema
        refuse_library_data(X)
        import pandas as pd
        known = self.prediction.feature_names
        expected = self.prediction.n_features if known is None else len(known)
        if isinstance(X, pd.DataFrame):
            schema = TabularSchema.from_data(X, allow_nan=self.prediction.allow_nan,
                                             as_frame=self.prediction.wants_frame)
            if known is not None:
                # the model's order, under the user's names (a library may have rewritten them); to_array reorders
                positions = column_positions([str(n) for n in known], schema.names, self.prediction.rename,
                                             what="the data")
                schema.names = tuple(schema.names[p] for p in positions)
        else:
            width = np.asarray(X).shape[-1] if np.ndim(X) else 0
            if expected is not None and width != expected:
                raise InputError(f"the data has {width} columns but the model expects {expected}"
                                 + (f" ({', '.join(map(str, known))})" if known is not None else "")
                                 + "; pass data with the same columns as the training data")
            schema = TabularSchema.from_data(X, names=self._names, allow_nan=self.prediction.allow_nan,
                                             as_frame=self.prediction.wants_frame)
        if expected is not None and schema.n_features != expected:
            raise InputError(f"the data has {schema.n_features} columns but the model expects {expected}; "
                             "pass data with the same columns as the training data")
        self.schema = schema
        return schema

    def prepare(self, X: Any, what: str = "X") -> np.ndarray:
        """Validate user data and return it as the (n, features) array explainers use."""
        self.bind(X)
        return self.schema.to_array(X, what=what)

    # ----------------------------------------------------------------- evaluation
    def __call__(self, X: Any) -> np.ndarray:
        """Validate X and evaluate: returns (n, outputs) float64. Models of texts or tensors (their adapter
        sets extra["raw_inputs"]) take X as it is, like `evaluate_raw`."""
        if self.prediction.extra.get("raw_inputs"):
            return self.evaluate_raw(X)
        return self.evaluate(self.prepare(X))

    def evaluate(self, arr: np.ndarray) -> np.ndarray:
        """Evaluate already-validated rows (from `prepare` or a masker), in batches; (n, outputs) float64."""
        if self.schema is None:
            self.bind(arr)
        n = arr.shape[0]
        if n == 0:
            k = self._n_outputs or 1
            return np.zeros((0, k))
        step = n if self.batch_size is None else self.batch_size
        parts = [self._evaluate_batch(arr[i:i + step]) for i in range(0, n, step)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def evaluate_each(self, inputs: Any, raw: bool = False) -> np.ndarray:
        """Evaluate each input on its own: (n, outputs) float64.

        A batched call may round an input differently with the batch (BLAS blocking in a network, a text
        padded to the batch's longest), so explanations that must not depend on the other inputs of their
        batch (the same seed gives the same values alone, in any batch, on any worker) ask for f(x) this
        way: one model call per input, or one for all of them when the adapter declares the model
        `batch_invariant`. raw: the inputs are texts or images (`evaluate_raw`), not table rows.
        """
        evaluate = self.evaluate_raw if raw else self.evaluate
        if len(inputs) == 0 or self.prediction.batch_invariant:
            return evaluate(inputs)
        return np.concatenate([evaluate(inputs[i:i + 1]) for i in range(len(inputs))], axis=0)

    def evaluate_raw(self, inputs: Any) -> np.ndarray:
        """Evaluate inputs that are not table rows (a list of texts, an image batch) exactly as given.

        No schema is applied; batching, counting and output checks are the same as `evaluate`.
        Returns (n, outputs) float64.
        """
        n = len(inputs)
        if n == 0:
            return np.zeros((0, self._n_outputs or 1))
        step = n if self.batch_size is None else self.batch_size
        parts = [self._call(inputs[i:i + step], min(step, n - i)) for i in range(0, n, step)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def _evaluate_batch(self, arr: np.ndarray) -> np.ndarray:
        return self._call(self.schema.to_model_input(arr), arr.shape[0])

    def _call(self, x: Any, n: int) -> np.ndarray:
        """One model call on n inputs: wrap the model's own failures, check and count the output."""
        try:
            raw = self.prediction.predict(x)
        except Exception as e:  # the model's own failure: say where it came from
            raise ModelError(f"the model ({self.kind}) failed on a batch of {n} rows: "
                             f"{type(e).__name__}: {e}") from e
        out = _as_output_array(raw, n, self.kind)
        if self._n_outputs is None:
            self._n_outputs = out.shape[1]
            if self._output_names is not None and len(self._output_names) != out.shape[1]:
                self._output_names = None
        elif out.shape[1] != self._n_outputs:
            raise ModelError(f"the model returned {out.shape[1]} outputs, earlier {self._n_outputs}; "
                             "a model must return the same number of outputs for every batch")
        self.n_evals += n
        self.n_calls += 1
        return out

    def __repr__(self) -> str:
        return f"Model(kind={self.kind!r}, output={self.output!r}, evals={self.n_evals})"


def _as_output_array(raw: Any, n: int, kind: str) -> np.ndarray:
    if hasattr(raw, "to_numpy"):
        raw = raw.to_numpy()
    if isinstance(raw, (list, tuple)) and raw and not np.isscalar(raw[0]) and len(raw) != n:
        raw = raw[0]
    a = np.asarray(raw)
    if a.dtype.kind in "OUS":
        sample = a.ravel()[:3].tolist()
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            raise ModelError(f"the model ({kind}) returned strings such as {sample}, not numbers; whybox explains "
                             "numeric outputs — for a classifier ask for output='probability' (predict_proba) "
                             "or wrap a function that returns scores") from None
    a = a.astype(np.float64, copy=False)
    if a.ndim == 1:
        a = a[:, None]
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    if a.shape[0] != n:
        raise ModelError(f"the model ({kind}) returned {a.shape[0]} rows for {n} inputs; it must return one "
                         "output row per input row")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ModelError(f"the model ({kind}) returned {int(bad.sum())} non-finite outputs (NaN or inf); "
                         "explanations of such outputs are meaningless — check the model and its input")
    return a


def wrap(model: Any, output: str = "auto", *, feature_names: Sequence[str] | None = None,
         batch_size: int | None = None, allow_nan: bool | None = None, tokenizer: Any = None,
         head: Any = None) -> Model:
    """Turn any supported model into a `Model`: f(X) -> (n, outputs) float64 counting evaluations.

    Arguments:
      model          scikit-learn estimator or pipeline, XGBoost / LightGBM / CatBoost model or booster,
                     onnxruntime session or .onnx path, a plain callable f(X) -> scores, or a `Model`
      output         "auto", "probability", "log_odds", "raw" (margin) or "predict", where the model offers it
      feature_names  names for the columns when the data carries none
      batch_size     most rows per model call
      allow_nan      override whether missing values may reach the model
      tokenizer      for a Hugging Face model: its tokenizer; the Model then takes a list of texts
                     (see `whybox.models.TextClassifier`)
      head           with a tokenizer and an encoder: the classifier on its mean-pooled states
    """
    if output not in OUTPUTS:
        raise InputError(f"unknown output {output!r}; choose one of {list(OUTPUTS)}")
    if tokenizer is not None or head is not None:
        if tokenizer is None:
            raise InputError("head= goes with an encoder and its tokenizer: wrap(encoder, tokenizer=..., head=...)")
        from .huggingface import TextClassifier
        if output not in ("auto", "probability", "raw"):
            raise InputError(f"a text classifier gives 'probability' or 'raw' scores, not {output!r}")
        model = TextClassifier(model, tokenizer, head, output="raw" if output == "raw" else "probability",
                               batch_size=batch_size or 32)
        output = "auto"
    if isinstance(model, Model):
        if output not in ("auto", model.output):
            raise InputError(f"this Model already computes {model.output!r}; wrap the original model to get "
                             f"{output!r}")
        if batch_size is not None:
            model.batch_size = batch_size
        return model
    _load_builtin_adapters()
    for _, matches, adapt in _ADAPTERS:
        if matches(model):
            pred = adapt(model, output)
            break
    else:
        raise ModelError(f"cannot use an object of type {type(model).__name__} as a model: it has no predict, "
                         "predict_proba or __call__. Pass a fitted estimator or a function f(X) -> scores")
    if allow_nan is not None:
        pred.allow_nan = allow_nan
    return Model(pred, batch_size=batch_size, feature_names=feature_names)


_LOADED = False


def _load_builtin_adapters() -> None:
    """Import the adapter modules once; each registers itself."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for name in ("boosting", "onnx", "torch", "huggingface", "sklearn", "callables"):
        try:
            __import__(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{name}":
                raise
