import re

import numpy as np
import pytest

from whybox.errors import InputError
from whybox.maskers import TextMasker
from whybox.surrogates import Anchors

TAU = 0.95


def _words(text):
    return set(re.findall(r"\w+(?:'\w+)*", text))


def _not_good(texts):
    """Class 1 iff the text contains both "not" and "good" (labels, one output)."""
    return np.array([int({"not", "good"} <= _words(t)) for t in texts])


def _refund(texts):
    """Probabilities of two classes; "complaint" iff the word "refund" is present."""
    p = np.array([0.9 if "refund" in _words(t) else 0.2 for t in texts])
    return np.column_stack([1 - p, p])


TEXT = "the soup was not good and the bread was stale"


@pytest.fixture(scope="module")
def not_good():
    return Anchors(_not_good, mode="text", seed=0).explain(TEXT)


def test_two_trigger_words_are_the_anchor(not_good):
    rule = not_good
    assert {v for _, op, v in rule.conditions} == {"not", "good"}
    assert all(op == "contains" for _, op, _ in rule.conditions)
    assert rule.prediction == 1 and rule.meta["meets_threshold"]
    # feature labels are the words' positions in the text
    words = TEXT.split()
    assert all(words[int(label)] == v for label, _, v in rule.conditions)


def test_precision_on_fresh_perturbations_and_coverage_is_the_keep_probability_product(not_good):
    rule = not_good
    rng = np.random.default_rng(7)
    words = TEXT.split()
    anchored = {v for _, _, v in rule.conditions}
    fresh = [" ".join(w if (w in anchored or rng.random() < 0.5) else "UNK" for w in words) for _ in range(2000)]
    assert rule.holds(fresh).all()
    assert (_not_good(fresh) == 1).mean() >= TAU - 0.02
    # each of the two words appears once and is kept with probability 0.5 in D: coverage = 0.25
    assert rule.coverage == pytest.approx(0.25, abs=0.02)
    agree = list(rule.examples_agree)
    assert agree and rule.holds(agree).all() and (_not_good(agree) == 1).all()


def test_a_repeated_word_counts_as_present_when_any_occurrence_is_kept():
    text = "refund please refund me"
    rule = Anchors(_refund, mode="text", seed=0).explain(text)
    assert rule.conditions == (("0", "contains", "refund"),)
    assert rule.prediction == "output_1"
    # "refund" survives unless both copies are dropped: 1 - 0.5 ** 2
    assert rule.coverage == pytest.approx(0.75, abs=0.02)


def test_no_trigger_gives_the_empty_anchor():
    rule = Anchors(_refund, seed=0).explain("a nice product overall")
    assert rule.conditions == () and rule.precision == 1.0 and rule.coverage == 1.0
    assert rule.meta["meets_threshold"] and rule.to_text().startswith("IF (always) THEN output_0")


def test_deleting_masker_batches_and_seed():
    masker = TextMasker(None)
    texts = ["I want a refund now", "the soup was not good"]
    a = Anchors(_refund, masker=masker, seed=3).explain(texts)
    b = Anchors(_refund, masker=masker, seed=3).explain(texts)
    assert isinstance(a, list) and len(a) == 2
    assert [r.conditions for r in a] == [r.conditions for r in b]
    assert [r.meta["model_evals"] for r in a] == [r.meta["model_evals"] for r in b]
    assert a[0].conditions == (("3", "contains", "refund"),)
    assert all("UNK" not in t for t in a[0].examples_agree)


def test_text_errors_name_the_fix():
    ex = Anchors(_not_good, mode="text")
    with pytest.raises(InputError, match="list of strings"):
        ex.explain(np.zeros((2, 3)))
    with pytest.raises(InputError, match="no words"):
        ex.explain("...")
    with pytest.raises(InputError, match="keep_prob"):
        Anchors(_not_good, mode="text", keep_prob=1.0)
