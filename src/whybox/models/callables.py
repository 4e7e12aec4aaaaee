"""Adapter for plain functions f(X) -> scores (and objects with only a predict method)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .base import PRIORITY, Prediction, register_adapter


def _adapt(model: Any, output: str) -> Prediction:
    fn = model if callable(model) else model.predict
    if output not in ("auto", "predict", "raw", "probability", "log_odds"):
        raise InputError(f"unknown output {output!r}")
    name = getattr(fn, "__name__", type(model).__name__)
    return Prediction(predict=fn, output="predict" if output == "auto" else output,
                      kind=f"callable:{name}", native=model)


def _matches(model: Any) -> bool:
    return callable(model) or hasattr(model, "predict")


register_adapter(_matches, _adapt, priority=PRIORITY["callables"])
