"""Removing words from a text: a removed word is deleted or replaced by a mask token, and the string rebuilt.

A text of m words is a row of m features; a coalition is a boolean keep-mask over them. Only words
(see `whybox.results.WORD_PATTERN`) are features: punctuation and spacing stay where they were, so a
text with every word kept comes back unchanged.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..results import WORD_PATTERN

__all__ = ["TextMasker"]


class TextMasker:
    """How a word is "removed" from a text.

    Arguments:
      mask_token  what a removed word becomes: None deletes it (and the space before it), a string such
                  as "[MASK]" or "UNK" replaces it
      pattern     regular expression for one word (default: letters/digits, apostrophes inside words)
    """

    def __init__(self, mask_token: str | None = None, *, pattern: str = WORD_PATTERN) -> None:
        self.mask_token = mask_token
        self.pattern = re.compile(pattern)

    def split(self, text: str) -> list[str]:
        """The words of a text, in order (the features)."""
        return [m.group(0) for m in self.pattern.finditer(self._check(text))]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each word."""
        return [m.span() for m in self.pattern.finditer(self._check(text))]

    @staticmethod
    def _check(text: Any) -> str:
        if not isinstance(text, str):
            raise InputError(f"a text must be a string, got {type(text).__name__}; pass a list of strings for a "
                             f"batch")
        return text

    def fill(self, text: str, masks: np.ndarray) -> list[str]:
        """One string per coalition: (c, words) bool masks -> c texts keeping the words marked True."""
        spans = self.spans(text)
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != len(spans):
            raise InputError(f"masks have {masks.shape[1]} columns but the text has {len(spans)} words")
        return [self._rebuild(text, spans, keep) for keep in masks]

    def _rebuild(self, text: str, spans: Sequence[tuple[int, int]], keep: np.ndarray) -> str:
        out, pos = [], 0
        for (a, b), k in zip(spans, keep):
            gap = text[pos:a]
            if k:
                out.append(gap + text[a:b])
            elif self.mask_token is not None:
                out.append(gap + self.mask_token)
            else:
                # a deleted word takes the spaces before it along, so "a b c" minus b is "a c"
                out.append(gap.rstrip(" \t"))
            pos = b
        tail = text[pos:]
        s = "".join(out) + tail
        return re.sub(r"[ \t]{2,}", " ", s).strip() if self.mask_token is None else s

    def __repr__(self) -> str:
        return f"TextMasker(mask_token={self.mask_token!r})"
