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
from ..results import Attribution
from .hierarchy import Hierarchy, from_nested

__all__ = ["Text", "phrase_groups"]

_REMOVE = ("mask", "pad", "delete")
_HIERARCHIES = ("halves", "phrases")
_SENTENCE_END = re.compile(r"^[.!?]+$")
_CLAUSE_END = re.compile(r"^[,;:]+$")


class Text:
    """Tokenizer-aware text masker.

    Arguments:
      tokenizer  a Hugging Face fast tokenizer (it must give word_ids and character offsets)
      remove     "mask" (the tokenizer's mask token), "pad" (its pad token), "delete", or any string to
                 put in a removed word's place
      hierarchy  how partition SHAP groups the words: "halves" (adjacent spans halved recursively) or
                 "phrases" (sentences first, then the clauses between commas, semicolons and colons, then
                 halves inside a clause), so that no group straddles a clause until the top levels
    """

    def __init__(self, tokenizer: Any, remove: str = "mask", hierarchy: str = "halves") -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise InputError("maskers.Text needs a fast tokenizer (one with word_ids and offsets); load it with "
                             "AutoTokenizer.from_pretrained(..., use_fast=True)")
        self.tokenizer = tokenizer
        if remove == "mask" and tokenizer.mask_token is None:
            raise InputError("this tokenizer has no mask token; use remove='pad', 'delete' or a string")
        if remove == "pad" and tokenizer.pad_token is None:
            raise InputError("this tokenizer has no pad token; use remove='mask', 'delete' or a string")
        if hierarchy not in _HIERARCHIES:
            raise InputError(f"hierarchy must be one of {_HIERARCHIES}, got {hierarchy!r}")
        self.remove = remove
        self.hierarchy_kind = hierarchy

    # ------------------------------------------------------------------ features
    def _encode(self, text: str, max_length: int | None = None) -> Any:
        if not isinstance(text, str):
            raise InputError(f"a text must be a string, got {type(text).__name__}")
        if max_length is None:
            return self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
        return self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True, truncation=True,
                              max_length=int(max_length))

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
        """Nested spans of adjacent words for partition Shapley values: halved recursively, or (with
        hierarchy="phrases") sentences, then clauses, then halves."""
        words = self.split(text)
        names = [f"{i}:{w}" for i, w in enumerate(words)]
        if not names:
            raise InputError("the text has no words to build a hierarchy over")
        if self.hierarchy_kind == "halves":
            return from_nested(list(range(len(names))), names)
        return from_nested(phrase_groups(words), names)

    def word_attribution(self, token_attr: Attribution, texts: Sequence[str], max_length: int | None = None
                         ) -> Attribution:
        """Token-level values summed into this masker's words: phi_word = sum of phi_token over its pieces.

        For attributions over the tokenizer's positions (layer integrated gradients on the embeddings,
        the [CLS] row of attention rollout): values (n, T, ...) for the same texts tokenized with special
        tokens and right padding (as `tokenizer(texts, padding=True)` gives). Special tokens belong to no
        word and are dropped; nothing else is lost, so each text's total stays the same when the special
        tokens carry nothing. Returns a padded word-level `Attribution` (words as data, `mask`), with
        base values, method and meta kept.

        Arguments:
          token_attr  the token-level Attribution (n rows)
          texts       the n texts it explains, in order
          max_length  the truncation length used for the token-level run, if any
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        values = np.asarray(token_attr.values)
        if values.ndim < 2 or values.shape[0] != len(texts):
            raise InputError(f"token values of shape {values.shape} do not fit {len(texts)} texts; give one row of "
                             "token values per text, (n, tokens, ...)")
        side = getattr(self.tokenizer, "padding_side", "right")
        groups, words = [], []
        for i, text in enumerate(texts):
            enc = self._encode(text, max_length)
            n_tok = len(enc["input_ids"])
            if n_tok > values.shape[1]:
                raise InputError(f"text {i} has {n_tok} tokens but the token values have {values.shape[1]} "
                                 "positions; pass the max_length the attribution was computed with")
            shift = values.shape[1] - n_tok if side == "left" else 0
            offsets = enc["offset_mapping"]
            g = self._words(enc)
            groups.append([[p + shift for p in w] for w in g])
            words.append([text[offsets[w[0]][0]:offsets[w[-1]][1]] for w in g])
        longest = max((len(w) for w in words), default=0)
        out = np.zeros((len(texts), longest) + values.shape[2:], dtype=values.dtype)
        data = np.full((len(texts), longest), "", dtype=object)
        mask = np.zeros((len(texts), longest), dtype=bool)
        for i, (g, w) in enumerate(zip(groups, words)):
            for j, positions in enumerate(g):
                out[i, j] = values[i, positions].sum(axis=0)
            data[i, :len(w)] = w
            mask[i, :len(w)] = True
        meta = dict(token_attr.meta)
        meta["levels"] = "words (token values summed over each word's pieces)"
        return Attribution(values=out, base_values=token_attr.base_values, data=data, mask=mask,
                           output_names=token_attr.output_names, has_outputs=token_attr.has_outputs,
                           method=token_attr.method, meta=meta)

    def __repr__(self) -> str:
        return f"Text({type(self.tokenizer).__name__}, remove={self.remove!r}, hierarchy={self.hierarchy_kind!r})"


def phrase_groups(words: Sequence[str]) -> list:
    """Word indices nested as sentences -> clauses -> words: a sentence ends after a ".", "!" or "?" word,
    a clause after a ",", ";" or ":" word (the mark stays with the words before it)."""
    sentences: list[list[list[int]]] = []
    sentence: list[list[int]] = []
    clause: list[int] = []
    for i, w in enumerate(words):
        clause.append(i)
        end_sentence = bool(_SENTENCE_END.match(w))
        if end_sentence or _CLAUSE_END.match(w):
            sentence.append(clause)
            clause = []
        if end_sentence:
            sentences.append(sentence)
            sentence = []
    if clause:
        sentence.append(clause)
    if sentence:
        sentences.append(sentence)
    return [[list(c) for c in s] for s in sentences]
