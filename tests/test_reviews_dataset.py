"""datasets.reviews: a seeded corpus whose labels follow the stated sentiment-and-negation rule."""

import re

import numpy as np
import pytest

from whybox.datasets import Reviews, reviews, reviews_truth
from whybox.results import WORD_PATTERN


@pytest.fixture(scope="module")
def corpus():
    return reviews(2000, seed=0)


def _words(text):
    return [w.lower() for w in re.findall(WORD_PATTERN, text)]


def _rule(words, positive, negative):
    """The label rule written out again, independently of reviews_truth."""
    score = 0
    for i, w in enumerate(words):
        value = 1 if w in positive else -1 if w in negative else 0
        if value and i > 0 and words[i - 1] == "not":
            value = -value
        score += value
    return score


def test_fields_and_sizes(corpus):
    assert isinstance(corpus, Reviews) and len(corpus) == 2000 == len(corpus.texts) == len(corpus.planted)
    assert corpus.y.shape == (2000,) and corpus.y.dtype == np.int64 and set(corpus.y.tolist()) == {0, 1}
    assert corpus.negation == "not"
    assert not set(corpus.positive_words) & set(corpus.negative_words)
    sentiment = set(corpus.positive_words) | set(corpus.negative_words) | {"not"}
    assert not sentiment & set(corpus.neutral_words)
    lengths = [len(_words(t)) for t in corpus.texts]
    assert min(lengths) >= 5 and max(lengths) <= 15
    # every word of every text is in the stated vocabulary
    vocabulary = sentiment | set(corpus.neutral_words)
    assert {w for t in corpus.texts for w in _words(t)} <= vocabulary


def test_same_seed_same_corpus_other_seed_other():
    a, b, c = reviews(300, seed=3), reviews(300, seed=3), reviews(300, seed=4)
    assert a.texts == b.texts and np.array_equal(a.y, b.y) and a.planted == b.planted
    assert a.texts != c.texts
    assert len(set(a.texts)) > 200                      # varied, not a handful of sentences repeated


def test_classes_are_balanced(corpus):
    assert abs(corpus.y.mean() - 0.5) < 0.02
    assert abs(reviews(101, seed=5).y.mean() - 0.5) < 0.02


def test_labels_follow_the_rule_recomputed_here(corpus):
    positive, negative = set(corpus.positive_words), set(corpus.negative_words)
    scores = np.array([_rule(_words(t), positive, negative) for t in corpus.texts])
    assert (scores != 0).all()                          # no ties by construction
    assert np.array_equal(corpus.y, (scores > 0).astype(int))
    assert np.array_equal(corpus.y_true, corpus.y)


def test_negation_share(corpus):
    has_not = np.array(["not" in _words(t) for t in corpus.texts])
    assert 0.2 <= has_not.mean() <= 0.3
    assert np.array_equal(has_not, corpus.negated)
    # every "not" negates a sentiment word right after it
    sentiment = set(corpus.positive_words) | set(corpus.negative_words)
    for t in corpus.texts:
        w = _words(t)
        assert all(w[i + 1] in sentiment for i, x in enumerate(w) if x == "not")
    # the negation decides the label of some texts in both directions ("not good" and "not bad")
    negated_words = {w[i + 1] for t in corpus.texts for w in [_words(t)] for i, x in enumerate(w) if x == "not"}
    assert negated_words & set(corpus.positive_words) and negated_words & set(corpus.negative_words)


def test_planted_words_sit_at_their_positions(corpus):
    positive, negative = set(corpus.positive_words), set(corpus.negative_words)
    for text, planted, label in zip(corpus.texts, corpus.planted, corpus.y):
        words = _words(text)
        assert planted
        for position, word, sign in planted:
            assert words[position] == word
            assert sign in (-1, 1)
            if word == "not":
                assert words[position + 1] in positive | negative
            else:
                base = 1 if word in positive else -1
                negated = position > 0 and words[position - 1] == "not"
                assert sign == (-base if negated else base)
        score = sum(s for _, w, s in planted if w != "not")
        assert (score > 0) == bool(label)


def test_reviews_truth_on_perturbed_texts():
    assert reviews_truth("The screen was good.") == (1, [(3, "good", 1)])
    assert reviews_truth("The screen was not good.") == (0, [(3, "not", -1), (4, "good", -1)])
    assert reviews_truth("The screen was not bad.")[0] == 1
    assert reviews_truth("The screen was [MASK] good.")[0] == 1   # masking "not" undoes the negation
    assert reviews_truth("The screen was not [MASK].") == (0, [])   # nothing left: a tie, labelled 0
    assert reviews_truth("Not good, but the battery was great and solid.")[0] == 1
    d = reviews(200, seed=1)
    assert [reviews_truth(t) for t in d.texts] == list(zip(d.y.tolist(), d.planted))


def test_label_noise_flips_about_that_share():
    clean, noisy = reviews(2000, seed=2), reviews(2000, seed=2, label_noise=0.1)
    assert clean.texts == noisy.texts and np.array_equal(clean.y_true, noisy.y_true)
    assert 0.07 < (noisy.y != noisy.y_true).mean() < 0.13
    with pytest.raises(ValueError):
        reviews(10, label_noise=0.7)
    with pytest.raises(ValueError):
        reviews(0)


def test_bigrams_learn_the_negation_unigrams_do_not():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, test = reviews(3000, seed=10), reviews(1000, seed=11)
    neg = test.negated
    accuracy = {}
    for ngrams in ((1, 1), (1, 2)):
        model = make_pipeline(CountVectorizer(ngram_range=ngrams, token_pattern=WORD_PATTERN),
                              LogisticRegression(C=10.0, max_iter=2000))
        model.fit(train.texts, train.y)
        hit = model.predict(test.texts) == test.y
        accuracy[ngrams] = (hit.mean(), hit[neg].mean(), hit[~neg].mean())
    bigram, unigram = accuracy[(1, 2)], accuracy[(1, 1)]
    assert bigram[0] > 0.9 and bigram[1] > 0.9
    assert unigram[1] < bigram[1] - 0.2                 # the negated texts need "not good" as a unit
    assert unigram[2] > 0.9                             # ... and only those
