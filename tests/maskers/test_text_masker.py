import numpy as np
import pytest

from whybox import InputError
from whybox.maskers import TextMasker

TEXT = "The food was not good, really. Don't go!"


def test_words_are_the_features_and_punctuation_stays():
    m = TextMasker()
    assert m.split(TEXT) == ["The", "food", "was", "not", "good", "really", "Don't", "go"]
    assert all(TEXT[a:b] == w for (a, b), w in zip(m.spans(TEXT), m.split(TEXT)))


def test_keeping_every_word_gives_the_text_back_and_deleting_one_removes_only_it():
    m = TextMasker()
    n = len(m.split(TEXT))
    assert m.fill(TEXT, np.ones(n, bool)) == [TEXT]
    masks = ~np.eye(n, dtype=bool)
    for i, out in enumerate(m.fill(TEXT, masks)):
        words = m.split(out)
        assert words == [w for j, w in enumerate(m.split(TEXT)) if j != i]
        assert "  " not in out and not out.startswith(" ")


def test_mask_token_replaces_each_removed_word():
    m = TextMasker("[MASK]")
    n = len(m.split(TEXT))
    keep = np.ones(n, bool)
    keep[[3, 4]] = False
    out = m.fill(TEXT, keep)[0]
    assert out == "The food was [MASK] [MASK], really. Don't go!"


def test_bad_input_is_named():
    m = TextMasker()
    with pytest.raises(InputError, match="string"):
        m.split(3)
    with pytest.raises(InputError, match="words"):
        m.fill("a b", np.ones((1, 3), bool))
