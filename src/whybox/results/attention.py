"""`AttentionMaps`: a transformer's attention weights per layer and head, their mean and attention rollout."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._json import decode_array, encode_array, to_jsonable
from .attribution import Attribution

_SOURCES = ("rollout", "last_layer_mean")


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """Attention of a batch of texts, padded to the longest text.

    attentions  (n, layers, heads, T, T) attention weights; entry [i, l, h, q, k] is how much query token q
                attends to key token k. Zero outside the real tokens of row i.
    mask        (n, T) bool, True on real tokens (each row's tokens come first; the rest is padding)
    tokens      (n, T) object array of token strings, "" on padding
    mean_heads  (n, layers, T, T) the mean of `attentions` over heads
    rollout     (n, T, T) attention rollout (Abnar & Zuidema 2020), or None when not computed:
                R = A'_L @ ... @ A'_1 with A'_l = rownorm(0.5 * fuse_heads(A_l) + 0.5 * I)
    method      "attention"
    meta        JSON-safe settings: residual, head_fusion, model class
    """

    attentions: np.ndarray
    mask: np.ndarray
    tokens: np.ndarray
    mean_heads: np.ndarray
    rollout: np.ndarray | None = None
    method: str = "attention"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        att = np.asarray(self.attentions)
        object.__setattr__(self, "attentions", att)
        object.__setattr__(self, "mask", np.asarray(self.mask, dtype=bool))
        tokens = np.asarray(self.tokens, dtype=object)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "mean_heads", np.asarray(self.mean_heads))
        if self.rollout is not None:
            object.__setattr__(self, "rollout", np.asarray(self.rollout))
        if att.ndim != 5 or att.shape[-1] != att.shape[-2]:
            raise ValueError(f"attentions must be (n, layers, heads, T, T), got shape {att.shape}")
        n, layers, _, t, _ = att.shape
        if self.mask.shape != (n, t):
            raise ValueError(f"mask has shape {self.mask.shape}, expected (n, T) = {(n, t)}")
        if tokens.shape != (n, t):
            raise ValueError(f"tokens has shape {tokens.shape}, expected (n, T) = {(n, t)}")
        if self.mean_heads.shape != (n, layers, t, t):
            raise ValueError(f"mean_heads has shape {self.mean_heads.shape}, expected {(n, layers, t, t)}")
        if self.rollout is not None and self.rollout.shape != (n, t, t):
            raise ValueError(f"rollout has shape {self.rollout.shape}, expected {(n, t, t)}")

    # ----------------------------------------------------------------- shape
    def __len__(self) -> int:
        return self.attentions.shape[0]

    @property
    def n_layers(self) -> int:
        return self.attentions.shape[1]

    @property
    def n_heads(self) -> int:
        return self.attentions.shape[2]

    def __getitem__(self, rows: int | slice | list | np.ndarray) -> "AttentionMaps":
        """The maps of some texts: an int gives one text (n = 1) cut to its own real tokens; a slice, a list
        of positions or a boolean mask gives those texts, padded to the longest of them."""
        if isinstance(rows, (bool, np.bool_)):
            raise TypeError("index AttentionMaps with a row position, a slice, positions or a boolean mask")
        if isinstance(rows, (int, np.integer)):
            n = len(self)
            if not -n <= int(rows) < n:
                raise IndexError(f"row {rows} is out of range for {n} texts")
            idx = np.array([int(rows) % n])
        else:
            idx = np.arange(len(self))[rows]
        t = int(self.mask[idx].sum(axis=1).max()) if idx.size else 0
        cut = np.s_[..., :t, :t]
        return AttentionMaps(attentions=self.attentions[idx][cut], mask=self.mask[idx][:, :t],
                             tokens=self.tokens[idx][:, :t], mean_heads=self.mean_heads[idx][cut],
                             rollout=None if self.rollout is None else self.rollout[idx][cut],
                             method=self.method, meta=dict(self.meta))

    def lengths(self) -> np.ndarray:
        """(n,) the number of real tokens of each row."""
        return self.mask.sum(axis=1)

    def row_tokens(self, i: int) -> list[str]:
        """The real tokens of row i (padding dropped)."""
        return [str(t) for t in self.tokens[i][self.mask[i]]]

    # ----------------------------------------------------------------- views
    def cls_attribution(self, source: str = "rollout", row_token: int = 0) -> Attribution:
        """How much one token (the [CLS] token at position 0 by default) attends to each token, as an
        `Attribution` (n, T) with the tokens as data and the padding mask, comparable with SHAP or IG.

        Arguments:
          source     "rollout" (the rollout row) or "last_layer_mean" (the last layer's mean over heads)
          row_token  position of the query token whose row is read (0 = [CLS]); negative counts from each
                     text's own end (-1 = its [SEP]); must be a real token of every text
        """
        if source not in _SOURCES:
            raise ValueError(f"source must be one of {_SOURCES}, got {source!r}")
        if source == "rollout":
            if self.rollout is None:
                raise ValueError("these attention maps hold no rollout; explain with rollout=True, or use "
                                 "source='last_layer_mean'")
            mats = self.rollout
        else:
            mats = self.mean_heads[:, -1]
        if isinstance(row_token, bool) or not isinstance(row_token, (int, np.integer)):
            raise ValueError(f"row_token must be a token position (int), got {row_token!r}")
        short = int(self.lengths().min()) if len(self) else 0
        if not -short <= row_token < short and len(self):
            raise ValueError(f"row_token={row_token} is outside the shortest text ({short} tokens)")
        n = len(self)
        idx = [int(row_token) % int(self.lengths()[i]) for i in range(n)]
        values = np.stack([mats[i, idx[i]] for i in range(n)]) if n else np.zeros((0, mats.shape[-1]))
        values = np.where(self.mask, values, 0.0)
        meta = {"source": source, "row_token": int(row_token), **to_jsonable(self.meta)}
        return Attribution(values=values, base_values=np.zeros(n), data=self.tokens.copy(), mask=self.mask.copy(),
                           method="attention_rollout" if source == "rollout" else "attention_last_layer_mean",
                           meta=meta)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        return {"type": "AttentionMaps", "attentions": encode_array(self.attentions),
                "mask": encode_array(self.mask), "tokens": encode_array(self.tokens),
                "mean_heads": encode_array(self.mean_heads), "rollout": encode_array(self.rollout),
                "method": self.method, "meta": to_jsonable(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "AttentionMaps":
        if d.get("type", "AttentionMaps") != "AttentionMaps":
            raise ValueError(f"expected an AttentionMaps dict, got type {d.get('type')!r}")
        return cls(attentions=decode_array(d["attentions"]), mask=decode_array(d["mask"]),
                   tokens=decode_array(d["tokens"]), mean_heads=decode_array(d["mean_heads"]),
                   rollout=decode_array(d.get("rollout")), method=d.get("method", "attention"),
                   meta=d.get("meta", {}))

    def __repr__(self) -> str:
        n, layers, heads, t, _ = self.attentions.shape
        return (f"AttentionMaps(n={n}, layers={layers}, heads={heads}, tokens<={t}, "
                f"rollout={'yes' if self.rollout is not None else 'no'})")
