"""Attention maps and attention rollout (Abnar & Zuidema 2020) of a Hugging Face transformer.

    from whybox.gradients import Attention
    maps = Attention(model, tokenizer).explain(["a fine film", "not good at all"])
    maps.rollout[0]                      # (T, T) rollout of the first text (real tokens first)
    maps.cls_attribution()               # the [CLS] row as an Attribution, comparable with SHAP / IG

Attention weights say where a layer looks, not what made the output: read them next to an attribution
(`whybox.evaluate.agreement`) rather than in place of one.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..models.huggingface import run_transformer
from ..results import AttentionMaps

__all__ = ["Attention", "attention_rollout"]

_FUSIONS = ("mean", "max", "min")


def _fuse(layer: np.ndarray, head_fusion: str) -> np.ndarray:
    """(..., heads, T, T) -> (..., T, T) by mean, max or min over heads."""
    if head_fusion == "mean":
        return layer.mean(axis=-3)
    if head_fusion == "max":
        return layer.max(axis=-3)
    return layer.min(axis=-3)


def attention_rollout(attentions: np.ndarray, residual: bool = True, head_fusion: str = "mean") -> np.ndarray:
    """Attention rollout of one sequence: R = A'_L @ ... @ A'_1, A'_l = rownorm(0.5 * fuse(A_l) + 0.5 * I).

    Arguments:
      attentions   (layers, heads, T, T) attention weights, rows = queries, columns = keys
      residual     add the identity for the skip connection (0.5 A + 0.5 I); without it A'_l = rownorm(fuse(A_l))
      head_fusion  "mean" (Abnar & Zuidema), "max" or "min" over heads
    Returns (T, T): row q is how much token q at the output draws, through all layers, on each input token.
    """
    a = np.asarray(attentions, dtype=np.float64)
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise InputError(f"attention_rollout takes one sequence's (layers, heads, T, T) weights, got shape {a.shape}")
    if head_fusion not in _FUSIONS:
        raise InputError(f"head_fusion must be one of {_FUSIONS}, got {head_fusion!r}")
    t = a.shape[-1]
    eye = np.eye(t)
    rollout = eye
    for layer in a:
        fused = _fuse(layer, head_fusion)
        if residual:
            fused = 0.5 * fused + 0.5 * eye
        sums = fused.sum(axis=-1, keepdims=True)
        fused = fused / np.where(sums > 0, sums, 1.0)
        rollout = fused @ rollout          # later layers multiply on the left
    return rollout


class Attention:
    """Raw attention per layer and head, its mean over heads, and attention rollout, for a batch of texts.

    Arguments:
      model       a transformers model (encoder such as BertModel, or a sequence classifier) loaded with
                  eager attention (attn_implementation="eager"), or a `whybox.models.TextClassifier`
      tokenizer   the model's tokenizer; taken from a TextClassifier when left out
      max_length  longer texts are truncated to this many tokens (default: the TextClassifier's, else 512)
      batch_size  texts per forward pass
    """

    def __init__(self, model: Any, tokenizer: Any = None, *, max_length: int | None = None,
                 batch_size: int = 16) -> None:
        inner = getattr(model, "model", None)
        if inner is not None and hasattr(model, "tokenizer") and not isinstance(model, torch.nn.Module):
            tokenizer = tokenizer if tokenizer is not None else model.tokenizer
            if max_length is None:
                max_length = getattr(model, "max_length", None)
            model = inner
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise InputError(f"Attention needs a Hugging Face transformers model or a TextClassifier, got "
                             f"{type(model).__name__}")
        if tokenizer is None:
            raise InputError("Attention needs the model's tokenizer: Attention(model, tokenizer)")
        impl = getattr(model.config, "_attn_implementation", None)
        if impl not in (None, "eager"):
            raise InputError(f"this model computes attention with {impl!r}, which returns no attention weights; "
                             "load it with attn_implementation='eager' (whybox.models.minilm() does)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.model, self.tokenizer = model, tokenizer
        self.max_length = int(max_length) if max_length is not None else 512
        self.batch_size = batch_size

    def _attend(self, texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        """Per text: (layers, heads, t, t) weights over its real tokens, and those tokens."""
        out, enc = run_transformer(self.model, self.tokenizer, texts, self.max_length, output_attentions=True)
        layers = getattr(out, "attentions", None)
        if not layers or any(a is None for a in layers):
            raise InputError("the model returned no attention weights; load it with attn_implementation='eager'")
        att = torch.stack([a.detach().double().cpu() for a in layers], dim=1).numpy()  # (b, L, H, T, T)
        real = enc["attention_mask"].bool().cpu().numpy()
        ids = enc["input_ids"].cpu().numpy()
        rows = []
        for i in range(len(texts)):
            pos = np.flatnonzero(real[i])
            a = att[i][:, :, pos][:, :, :, pos]
            rows.append((a, [str(t) for t in self.tokenizer.convert_ids_to_tokens(ids[i][pos].tolist())]))
        return rows

    def explain(self, texts: Sequence[str], rollout: bool = True, residual: bool = True,
                head_fusion: str = "mean") -> AttentionMaps:
        """Attention of each text over its own real tokens (padding in the batch gets no weight).

        Arguments:
          texts        a list of strings
          rollout      also compute attention rollout: R = A'_L @ ... @ A'_1, A'_l = rownorm(0.5 fuse(A_l) + 0.5 I)
          residual     include the 0.5 I skip-connection term in the rollout
          head_fusion  how heads are fused for the rollout: "mean", "max" or "min"
        Returns `AttentionMaps` padded to the longest text, with a mask of the real tokens.
        """
        if isinstance(texts, str):
            raise InputError("pass a list of texts, e.g. [text], not a single string")
        texts = list(texts)
        if not texts:
            raise InputError("no texts to explain: pass a non-empty list of strings")
        if not all(isinstance(t, str) for t in texts):
            bad = next(type(t).__name__ for t in texts if not isinstance(t, str))
            raise InputError(f"Attention explains a list of strings; found a {bad}")
        if head_fusion not in _FUSIONS:
            raise InputError(f"head_fusion must be one of {_FUSIONS}, got {head_fusion!r}")
        rows: list[tuple[np.ndarray, list[str]]] = []
        for s in range(0, len(texts), self.batch_size):
            rows.extend(self._attend(texts[s:s + self.batch_size]))
        n = len(rows)
        n_layers, n_heads = rows[0][0].shape[:2]
        t_max = max(len(tok) for _, tok in rows)
        attentions = np.zeros((n, n_layers, n_heads, t_max, t_max))
        rolled = np.zeros((n, t_max, t_max)) if rollout else None
        mask = np.zeros((n, t_max), dtype=bool)
        tokens = np.full((n, t_max), "", dtype=object)
        for i, (a, tok) in enumerate(rows):
            t = len(tok)
            attentions[i, :, :, :t, :t] = a
            mask[i, :t] = True
            tokens[i, :t] = tok
            if rolled is not None:
                rolled[i, :t, :t] = attention_rollout(a, residual=residual, head_fusion=head_fusion)
        meta = {"residual": bool(residual), "head_fusion": head_fusion, "rollout": bool(rollout),
                "model": type(self.model).__name__, "max_length": self.max_length}
        return AttentionMaps(attentions=attentions, mask=mask, tokens=tokens, mean_heads=attentions.mean(axis=2),
                             rollout=rolled, meta=meta)

    def __repr__(self) -> str:
        return f"Attention({type(self.model).__name__})"
