"""Model adapters: `wrap(model)` gives one batched f(X) -> (n, outputs) that counts evaluations."""

from .base import OUTPUTS, Model, Prediction, register_adapter, wrap
from .huggingface import TextClassifier, minilm
from .schema import TabularSchema

__all__ = ["OUTPUTS", "Model", "Prediction", "TabularSchema", "TextClassifier", "minilm", "register_adapter", "wrap"]
