"""Masking a text the way its model's tokenizer sees it: words made of sub-word pieces move together.

A text's features are the tokenizer's words (its `word_ids`: a word and its continuation pieces, and
each punctuation mark), never the special tokens ([CLS], [SEP], padding). Removing a feature either
rewrites the string (for models that take text: the word's characters become the mask token, the pad
token, or are deleted) or rewrites the token ids (for models that take ids: each of the word's pieces
becomes the mask or pad id; special tokens stay).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .hierarchy import Hierarchy, from_nested

__all__ = ["Text"]

_REMOVE = ("mask", "pad", "delete")


class Text:
    """Tokenizer-aware text masker.

    Arguments:
      tokenizer  a Hugging Face fast tokenizer (it must give word_ids and character offsets)
      remove     "mask" (the tokenizer's mask token), "pad" (its pad token), "delete", or any string to
                 put in a removed word's place
    """

    def __init__(self, tokenizer: Any, remove: str = "mask") -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise InputError("maskers.Text needs a fast tokenizer (one with word_ids and offsets); load it with "
                             "AutoTokenizer.from_pretrained(..., use_fast=True)")
        self.tokenizer = tokenizer
        if remove == "mask" and tokenizer.mask_token is None:
            raise InputError("this tokenizer has no mask token; use remove='pad', 'delete' or a string")
        if remove == "pad" and tokenizer.pad_token is None:
            raise InputError("this tokenizer has no pad token; use remove='mask', 'delete' or a string")
        self.remove = remove

    # ------------------------------------------------------------------ features
    def _encode(self, text: str) -> Any:
        if not isinstance(text, str):
            raise InputError(f"a text must be a string, got {type(text).__name__}")
        return self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)

    def _words(self, enc: Any) -> list[list[int]]:
        """Token positions of each word, in order; special tokens belong to none."""
        groups: dict[int, list[int]] = {}
        for pos, w in enumerate(enc.word_ids()):
            if w is not None:
                groups.setdefault(w, []).append(pos)
        return [groups[w] for w in sorted(groups)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) characters of each feature (word)."""
        enc = self._encode(text)
        offsets = enc["offset_mapping"]
        return [(offsets[g[0]][0], offsets[g[-1]][1]) for g in self._words(enc)]

    def split(self, text: str) -> list[str]:
        """The features of a text: its words as the tokenizer splits them (punctuation on its own)."""
        return [text[a:b] for a, b in self.spans(text)]

    def tokens(self, text: str) -> list[list[str]]:
        """The sub-word pieces of each feature."""
        enc = self._encode(text)
        pieces = self.tokenizer.convert_ids_to_tokens(enc["input_ids"])
        return [[pieces[p] for p in g] for g in self._words(enc)]

    # ------------------------------------------------------------------ removing
    def _filler(self) -> str | None:
        if self.remove == "delete":
            return None
        if self.remove == "mask":
            return self.tokenizer.mask_token
        if self.remove == "pad":
            return self.tokenizer.pad_token
        return self.remove

    def fill(self, text: str, masks: np.ndarray) -> list[str]:
        """One string per coalition: (c, words) bool masks -> c texts keeping the words marked True."""
        spans = self.spans(text)
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != len(spans):
            raise InputError(f"masks have {masks.shape[1]} columns but the text has {len(spans)} words")
        filler = self._filler()
        out = []
        for keep in masks:
            parts, pos = [], 0
            for (a, b), k in zip(spans, keep):
                gap = text[pos:a]
                if k:
                    parts.append(gap + text[a:b])
                elif filler is not None:
                    parts.append(gap + filler)
                else:
                    parts.append(gap.rstrip(" \t"))
                pos = b
            s = "".join(parts) + text[pos:]
            out.append(re.sub(r"[ \t]{2,}", " ", s).strip() if filler is None else s)
        return out

    def fill_ids(self, text: str, masks: np.ndarray) -> np.ndarray:
        """Token ids per coalition: (c, words) masks -> (c, tokens) ids, removed words' pieces replaced by
        the mask (or pad) id and special tokens untouched. Not for remove='delete' or a free string."""
        if self.remove not in ("mask", "pad"):
            raise InputError("fill_ids replaces pieces in place, so it needs remove='mask' or 'pad'")
        enc = self._encode(text)
        words = self._words(enc)
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != len(words):
            raise InputError(f"masks have {masks.shape[1]} columns but the text has {len(words)} words")
        ids = np.tile(np.asarray(enc["input_ids"], dtype=np.int64), (masks.shape[0], 1))
        fill_id = self.tokenizer.mask_token_id if self.remove == "mask" else self.tokenizer.pad_token_id
        for j, g in enumerate(words):
            ids[np.ix_(~masks[:, j], g)] = fill_id
        return ids

    # ------------------------------------------------------------------ hierarchy
    def hierarchy(self, text: str) -> Hierarchy:
        """Nested spans of adjacent words (halved recursively), for partition Shapley values."""
        names = [f"{i}:{w}" for i, w in enumerate(self.split(text))]
        if not names:
            raise InputError("the text has no words to build a hierarchy over")
        return from_nested(list(range(len(names))), names)

    def __repr__(self) -> str:
        return f"Text({type(self.tokenizer).__name__}, remove={self.remove!r})"
