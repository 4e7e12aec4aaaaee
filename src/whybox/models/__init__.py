"""Model adapters: `wrap(model)` gives one batched f(X) -> (n, outputs) that counts evaluations."""

from .base import OUTPUTS, Model, Prediction, register_adapter, wrap
from .huggingface import TextClassifier, minilm
from .schema import TabularSchema


def __getattr__(name: str):
    """The text heads need torch, so they load on first use: TokenHead, EncoderClassifier, fit_text_head."""
    if name in ("TokenHead", "EncoderClassifier", "fit_text_head"):
        from . import text_head

        return getattr(text_head, name)
    raise AttributeError(f"module 'whybox.models' has no attribute {name!r}")


__all__ = ["OUTPUTS", "Model", "Prediction", "TabularSchema", "TextClassifier", "minilm", "TokenHead",
           "EncoderClassifier", "fit_text_head", "register_adapter", "wrap"]
